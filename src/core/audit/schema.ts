import type { Kysely } from 'kysely';

/**
 * The audit chain's tables, shared by the control plane and every tenant database (each has its own chain).
 */

export interface AuditEventsTable {
  seq: number;
  id: string;
  occurred_at: Date;
  actor: string;
  credential_class: string;
  credential_id: string | null;
  method: string;
  route: string;
  path: string;
  status: number;
  duration_ms: number;
  request_id: string;
  client_ip: string;
  /** Control plane only (its migration adds the column): the partner behind a partner-key call. */
  partner_id?: string | null;
  prev_hash: string;
  hash: string;
}

export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface AuditSchema {
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
}

/** A database that holds the audit tables, seen only through them (the runtime object is the same). */
export function auditDb<DB extends AuditSchema>(db: Kysely<DB>): Kysely<AuditSchema> {
  return db as unknown as Kysely<AuditSchema>;
}

export const AUDIT_CHAIN_DDL: string[] = [
  `create table if not exists audit_events (
    seq bigint primary key,
    id text not null unique,
    occurred_at timestamptz not null,
    actor text not null,
    credential_class text not null,
    credential_id text,
    method text not null,
    route text not null,
    path text not null,
    status integer not null,
    duration_ms integer not null,
    request_id text not null,
    client_ip text not null,
    prev_hash text not null,
    hash text not null
  )`,
  `create index if not exists audit_events_actor on audit_events (actor, seq)`,
  `create index if not exists audit_events_credential on audit_events (credential_id, seq)`,
  `create index if not exists audit_events_time on audit_events (occurred_at)`,
  // The chain head: one row, locked FOR UPDATE by every append, so the chain stays a single line even with
  // several replicas writing to one database. The application never updates or deletes audit rows.
  `create table if not exists audit_head (
    id integer primary key check (id = 1),
    seq bigint not null,
    hash text not null
  )`,
  `insert into audit_head (id, seq, hash) values (1, 0, repeat('0', 64)) on conflict (id) do nothing`,
];
