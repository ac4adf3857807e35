import type { Kysely, SelectQueryBuilder } from 'kysely';
import { Type, type Static } from 'typebox';
import { renderAuditLine, type AuditRow } from './chain.js';
import type { AuditSchema } from './schema.js';
import { Text } from '../http/input.js';

export const AuditFilterQuery = Type.Object({
  actor: Type.Optional(Text({ maxLength: 200, description: 'Exact actor, e.g. `org-token:mola_k7x9p2q4` or `admin-token`.' })),
  credential_id: Type.Optional(Text({ maxLength: 64, description: 'Exact credential id, e.g. `tok_…`.' })),
  method: Type.Optional(Type.String({ pattern: '^[A-Z]{3,7}$', 'x-error': 'must be an upper-case HTTP method' })),
  path: Type.Optional(Text({ maxLength: 500, description: 'Path prefix, e.g. `/org/tokens`.' })),
  status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
  since: Type.Optional(Type.String({ format: 'date-time', 'x-error': 'must be an RFC 3339 date-time' })),
  until: Type.Optional(Type.String({ format: 'date-time', 'x-error': 'must be an RFC 3339 date-time' })),
});
export type AuditFilter = Static<typeof AuditFilterQuery>;

export const AuditEvent = Type.Object({
  seq: Type.Integer(),
  id: Type.String(),
  occurred_at: Type.String({ format: 'date-time' }),
  actor: Type.String(),
  credential_class: Type.String(),
  credential_id: Type.Union([Type.String(), Type.Null()]),
  method: Type.String(),
  route: Type.String(),
  path: Type.String(),
  status: Type.Integer(),
  duration_ms: Type.Integer(),
  request_id: Type.String(),
  client_ip: Type.String(),
  partner_id: Type.Optional(Type.String({ description: 'Control plane: the partner behind a partner-key call (`actor` is `partner-key:<prefix>`).' })),
  prev_hash: Type.String(),
  hash: Type.String(),
  line: Type.String({ description: 'Text rendering: `<actor> <METHOD> <path> <status> <ms>ms`.' }),
});
export type AuditEvent = Static<typeof AuditEvent>;

export function presentAuditRow(r: AuditRow): AuditEvent {
  const { partner_id, ...rest } = r;
  const row = { ...rest, seq: Number(r.seq), ...(partner_id ? { partner_id } : {}) };
  return { ...row, occurred_at: new Date(row.occurred_at).toISOString(), line: renderAuditLine(row) };
}

function applyFilter<O>(q: SelectQueryBuilder<AuditSchema, 'audit_events', O>, f: AuditFilter) {
  if (f.actor !== undefined) q = q.where('actor', '=', f.actor);
  if (f.credential_id !== undefined) q = q.where('credential_id', '=', f.credential_id);
  if (f.method !== undefined) q = q.where('method', '=', f.method);
  if (f.path !== undefined) q = q.where('path', 'like', `${f.path.replace(/[\\%_]/g, '\\$&')}%`);
  if (f.status !== undefined) q = q.where('status', '=', f.status);
  if (f.since !== undefined) q = q.where('occurred_at', '>=', new Date(f.since));
  if (f.until !== undefined) q = q.where('occurred_at', '<', new Date(f.until));
  return q;
}

/** Newest first; `before` is the cursor (a seq) from the previous page. */
export async function queryAudit<DB extends AuditSchema>(database: Kysely<DB>, f: AuditFilter, limit: number, before?: number): Promise<AuditRow[]> {
  const db = database as unknown as Kysely<AuditSchema>;
  let q = applyFilter(db.selectFrom('audit_events').selectAll(), f).orderBy('seq', 'desc').limit(limit);
  if (before !== undefined) q = q.where('seq', '<', before);
  return q.execute();
}

/** Oldest first, in pages, for export: memory stays flat however long the trail is. */
export async function* iterateAudit<DB extends AuditSchema>(database: Kysely<DB>, f: AuditFilter, pageSize = 1000): AsyncGenerator<AuditRow> {
  const db = database as unknown as Kysely<AuditSchema>;
  let after = 0;
  for (;;) {
    const page = await applyFilter(db.selectFrom('audit_events').selectAll(), f).where('seq', '>', after).orderBy('seq', 'asc').limit(pageSize).execute();
    for (const row of page) yield row;
    if (page.length < pageSize) return;
    after = Number(page[page.length - 1]!.seq);
  }
}
