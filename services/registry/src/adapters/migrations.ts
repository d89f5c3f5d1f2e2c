import type { Migration } from '@mlpipe/db';
import { outboxMigration } from '@mlpipe/outbox';

export const REGISTRY_SCHEMA = 'registry';

export const migrations: Migration[] = [
  {
    id: '001_registry',
    sql: `
      create table experiments (
        name text primary key,
        created_at timestamptz not null default now()
      );
      create table runs (
        run_id text primary key,
        experiment text not null references experiments(name),
        status text not null check (status in ('running', 'finished', 'failed')),
        params jsonb not null,
        tags jsonb not null default '{}',
        dataset_version text not null,
        code_version text not null,
        backend text,
        replica text,
        error text,
        started_at timestamptz not null default now(),
        ended_at timestamptz
      );
      create table run_metrics (
        run_id text not null references runs(run_id),
        key text not null,
        step int not null,
        value double precision not null,
        at timestamptz not null default now(),
        primary key (run_id, key, step)
      );
      create table registered_models (
        name text primary key,
        created_at timestamptz not null default now()
      );
      create table model_versions (
        model text not null references registered_models(name),
        version int not null,
        run_id text not null unique references runs(run_id),
        artefact_prefix text not null,
        test_accuracy double precision not null,
        per_class_accuracy jsonb not null,
        confusion_matrix jsonb not null,
        train_samples int not null,
        dataset_version text not null,
        created_at timestamptz not null default now(),
        primary key (model, version)
      );
      create table aliases (
        model text not null,
        alias text not null check (alias in ('champion', 'challenger')),
        version int not null,
        updated_at timestamptz not null default now(),
        primary key (model, alias),
        foreign key (model, version) references model_versions(model, version)
      );
      create table audit_log (
        id bigserial primary key,
        at timestamptz not null default now(),
        actor text not null,
        action text not null,
        model text,
        version int,
        decision text,
        reason text not null,
        details jsonb not null default '{}'
      );
      create function audit_log_is_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'audit_log is append-only: % is not allowed', tg_op;
      end $$;
      create trigger audit_log_append_only before update or delete on audit_log
        for each row execute function audit_log_is_append_only();
      create trigger audit_log_no_truncate before truncate on audit_log
        for each statement execute function audit_log_is_append_only();
    `,
  },
  {
    id: '002_sweeps',
    sql: `
      alter table runs add column parent_run_id text references runs(run_id), add column completion jsonb;
      create index runs_parent on runs (parent_run_id);
      alter table runs drop constraint runs_status_check;
      alter table runs add constraint runs_status_check check (status in ('running', 'finished', 'failed', 'killed'));
    `,
  },
  {
    id: '003_transformed_accuracy',
    sql: `alter table model_versions add column transformed_test_accuracy double precision;`,
  },
  // Version registrations and alias moves commit with their events (libs/outbox).
  outboxMigration('004_outbox'),
  {
    // Whether a version carries a verified model.onnx, or why not (OnnxExportSchema); null before the export existed.
    id: '005_onnx_export',
    sql: `alter table model_versions add column onnx jsonb;`,
  },
];
