import type { Migration } from '@mlpipe/db';

export const WATCHER_SCHEMA = 'watcher';

export const migrations: Migration[] = [
  {
    id: '001_batches',
    sql: `
      create table batches (
        source_prefix text primary key,
        batch_id text not null,
        status text not null check (status in ('validated', 'rejected')),
        dataset text,
        split text,
        content_hash text,
        samples int,
        class_counts jsonb,
        reasons jsonb not null default '[]',
        warnings jsonb not null default '[]',
        processed_at timestamptz not null default now()
      );
      create table sample_hashes (
        hash bytea primary key,
        content_hash text not null
      );
      create table dataset_versions (
        seq bigserial primary key,
        id text not null unique,
        dataset text not null,
        body jsonb not null,
        created_at timestamptz not null default now()
      );
    `,
  },
  {
    id: '002_model_versions',
    sql: `
      create table model_versions (
        model text not null,
        version int not null,
        dataset_version text not null,
        primary key (model, version)
      );
    `,
  },
  {
    // Every judged window, drifted or not, so the UI can show the statistics over time (issue 15).
    id: '003_drift_windows',
    sql: `
      create table drift_windows (
        id bigserial primary key,
        model text not null,
        version int not null,
        window_from timestamptz not null,
        window_to timestamptz not null,
        samples int not null,
        drifted boolean not null,
        reasons jsonb not null default '[]',
        tests jsonb not null,
        event_id text,
        judged_at timestamptz not null default now()
      );
      create index drift_windows_model on drift_windows (model, id desc);
    `,
  },
];
