import type { Db } from './db';
import type { DatasetVersion } from '@mlpipe/contracts';
import type { RetrainFacts } from '../core/policy';
import { latestVersionSql } from './datasetVersionRepository';
import { championSql, toChampion, type ChampionRow } from './modelRepository';
import { openDriftSql } from './driftAlertRepository';

type ContextRow = {
  latest: DatasetVersion;
  champion: ChampionRow | null;
  active_job: boolean;
  job_exists_for_version: boolean;
  drift: { version: number; reasons: string[] } | null;
};

/**
 * Everything the retraining policy weighs, read in one statement: one round trip, and one snapshot,
 * so the newest version, the champion, the jobs and the drift alerts cannot be from different moments.
 * Undefined while the dataset has no version yet.
 */
export async function loadRetrainFacts(db: Db, modelName: string, dataset: string): Promise<RetrainFacts | undefined> {
  const { rows } = await db.query<ContextRow>(
    `with latest as (${latestVersionSql('$2')}),
          champion as (${championSql('$1')}),
          drift as (${openDriftSql('$1')})
     select l.body as latest,
       (select row_to_json(c) from champion c) as champion,
       exists (select 1 from orchestrator.jobs where model_name = $1 and status in ('queued','running')) as active_job,
       exists (select 1 from orchestrator.jobs where model_name = $1 and dataset_version = l.id and status <> 'failed') as job_exists_for_version,
       (select row_to_json(d) from drift d) as drift
     from latest l`,
    [modelName, dataset],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    latest: r.latest,
    champion: r.champion ? toChampion(r.champion) : null,
    activeJob: r.active_job,
    jobExistsForVersion: r.job_exists_for_version,
    drift: r.drift,
  };
}
