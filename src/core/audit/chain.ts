import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { newId } from '../ids.js';
import type { AuditEventsTable, AuditSchema } from './schema.js';

/**
 * The tamper-evident audit chain (DESIGN.md §5). Every row carries the previous row's hash and
 * hash = sha256(prev_hash ‖ "\n" ‖ canonical(row)), so altering, removing or reordering any stored row breaks
 * the chain at exactly that row, and `verifyChain` names it.
 */

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditEventInput {
  occurredAt: Date;
  actor: string;
  credentialClass: string;
  credentialId: string | null;
  method: string;
  /** The route pattern, e.g. `/org/tokens/:id`. */
  route: string;
  /** The concrete path, without the query string. */
  path: string;
  status: number;
  durationMs: number;
  requestId: string;
  clientIp: string;
  /** The partner behind a partner-key call (control plane only); absent for every other credential. */
  partnerId?: string | null;
}

export type AuditRow = AuditEventsTable;

/** The exact bytes that are hashed: a JSON array in a fixed field order, so no key-order ambiguity exists. */
export function canonicalAuditRow(row: Omit<AuditRow, 'hash' | 'prev_hash'>): string {
  // `partner_id` joins the hashed fields only when set (partner-key calls, issue 12): every other row hashes exactly as
  // it did before the column existed, so chains written earlier still verify.
  const partner = row.partner_id ? [row.partner_id] : [];
  return JSON.stringify([
    row.seq,
    row.id,
    row.occurred_at.toISOString(),
    row.actor,
    row.credential_class,
    row.credential_id,
    row.method,
    row.route,
    row.path,
    row.status,
    row.duration_ms,
    row.request_id,
    row.client_ip,
    ...partner,
  ]);
}

export function chainHash(prevHash: string, canonical: string): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonical).digest('hex');
}

/** The one-line text rendering: `org-token:mola_k7x9p2q4 POST /org/tokens 200 12ms`. */
export function renderAuditLine(row: Pick<AuditRow, 'actor' | 'method' | 'path' | 'status' | 'duration_ms'>): string {
  return `${row.actor} ${row.method} ${row.path} ${row.status} ${row.duration_ms}ms`;
}

/**
 * Appends events to the chain inside the caller's transaction. The head row is locked FOR UPDATE, which makes
 * concurrent appenders (requests, replicas) queue for the short moment between lock and commit.
 */
export async function appendAuditEvents<DB extends AuditSchema>(tx: Transaction<DB>, events: readonly AuditEventInput[]): Promise<void> {
  if (events.length === 0) return;
  const trx = tx as unknown as Transaction<AuditSchema>;
  const head = await sql<{ seq: number | string; hash: string }>`select seq, hash from audit_head where id = 1 for update`.execute(trx);
  const current = head.rows[0];
  if (!current) throw new Error('audit_head row is missing; the audit migration did not run');
  let seq = Number(current.seq);
  let prevHash = current.hash;
  const rows: AuditRow[] = [];
  for (const e of events) {
    seq += 1;
    const base = {
      seq,
      id: newId('auditEvent'),
      occurred_at: new Date(Math.floor(e.occurredAt.getTime())),
      actor: e.actor,
      credential_class: e.credentialClass,
      credential_id: e.credentialId,
      method: e.method,
      route: e.route,
      path: e.path,
      status: e.status,
      duration_ms: Math.max(0, Math.round(e.durationMs)),
      request_id: e.requestId,
      client_ip: e.clientIp,
      // Only databases that have the column (the control plane's) ever get a value here.
      ...(e.partnerId ? { partner_id: e.partnerId } : {}),
    };
    const hash = chainHash(prevHash, canonicalAuditRow(base));
    rows.push({ ...base, prev_hash: prevHash, hash });
    prevHash = hash;
  }
  await trx.insertInto('audit_events').values(rows).execute();
  await trx.updateTable('audit_head').set({ seq, hash: prevHash }).where('id', '=', 1).execute();
}

export type VerifyResult =
  | { ok: true; count: number; head: string }
  | { ok: false; count: number; broken_at: number; event_id: string | null; reason: string };

/** Recomputes the whole chain in pages, in order, and names the first row that does not fit. */
export async function verifyChain<DB extends AuditSchema>(database: Kysely<DB>, pageSize = 2000): Promise<VerifyResult> {
  const db = database as unknown as Kysely<AuditSchema>;
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let count = 0;
  for (;;) {
    const page = await db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>=', expectedSeq)
      .orderBy('seq', 'asc')
      .limit(pageSize)
      .execute();
    for (const raw of page) {
      const row = { ...raw, seq: Number(raw.seq), occurred_at: new Date(raw.occurred_at) };
      if (row.seq !== expectedSeq) {
        return { ok: false, count, broken_at: row.seq, event_id: row.id, reason: `rows ${expectedSeq}..${row.seq - 1} are missing` };
      }
      if (row.prev_hash !== prevHash) {
        return { ok: false, count, broken_at: row.seq, event_id: row.id, reason: 'prev_hash does not match the previous row' };
      }
      const { hash, prev_hash: _prev, ...rest } = row;
      if (chainHash(prevHash, canonicalAuditRow(rest)) !== hash) {
        return { ok: false, count, broken_at: row.seq, event_id: row.id, reason: 'row content does not match its hash' };
      }
      prevHash = hash;
      expectedSeq += 1;
      count += 1;
    }
    if (page.length < pageSize) break;
  }
  const head = await db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
  if (!head || Number(head.seq) !== count || head.hash !== prevHash) {
    return { ok: false, count, broken_at: count + 1, event_id: null, reason: 'rows are missing after the last stored row (head mismatch)' };
  }
  return { ok: true, count, head: prevHash };
}
