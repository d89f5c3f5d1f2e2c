import type { Migration } from '@mlpipe/db';
import { outboxMigration } from '@mlpipe/outbox';

export const ORCHESTRATOR_SCHEMA = 'orchestrator';

export const migrations: Migration[] = [
  {
    id: '001_jobs',
    sql: `
      create table jobs (
        job_id text primary key,
        idempotency_key text not null unique,
        model_name text not null,
        dataset text not null,
        dataset_version text not null,
        hyperparams jsonb not null,
        replicas int not null,
        trigger jsonb not null,
        status text not null,
        status_reason text,
        attempts int not null default 0,
        last_progress jsonb,
        model_version int,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );
      create index jobs_model_status on jobs (model_name, status);
      create table dataset_versions (
        id text primary key,
        dataset text not null,
        train_samples int not null,
        test_samples int not null,
        body jsonb not null,
        seen_at timestamptz not null default now()
      );
      create table model_versions (
        model_name text not null,
        version int not null,
        job_id text not null,
        train_samples int not null,
        dataset_version text not null,
        primary key (model_name, version)
      );
      create table champions (
        model_name text primary key,
        version int not null,
        updated_at timestamptz not null default now()
      );
    `,
  },
  {
    id: '002_sweeps',
    sql: `
      alter table jobs add column sweep_id text, add column trial int,
        add column history jsonb not null default '[]'::jsonb, add column pruned_reason text;
      create index jobs_sweep on jobs (sweep_id);
      create table sweeps (
        sweep_id text primary key,
        model_name text not null,
        dataset text not null,
        dataset_version text not null,
        spec jsonb not null,
        status text not null,
        status_reason text,
        best_job_id text,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );
    `,
  },
  {
    id: '003_drift_alerts',
    sql: `
      create table drift_alerts (
        id bigserial primary key,
        model_name text not null,
        version int not null,
        reasons jsonb not null,
        event_id text not null unique,
        detected_at timestamptz not null default now(),
        resolved_by_job text
      );
    `,
  },
  {
    id: '004_model_artefacts',
    sql: `alter table model_versions add column artefact_prefix text;`,
  },
  // Job requests, cancels and sweep results commit with the rows that make them true (libs/outbox).
  outboxMigration('005_outbox'),
  {
    // Who asked for a job (null: automatic); quotas count a principal's queued and running jobs.
    id: '006_submitted_by',
    sql: `
      alter table jobs add column submitted_by text;
      create index jobs_active_by_principal on jobs (submitted_by) where status in ('queued', 'running');
    `,
  },
  {
    // The job's training-group secret: the trainers seal every group frame with it (issue 13).
    id: '007_group_key',
    sql: `alter table jobs add column group_key text;`,
  },
];
