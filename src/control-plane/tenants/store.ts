import { sql, type Kysely, type Transaction } from 'kysely';
import type { ControlPlaneSchema } from '../db/schema.js';

type Db = Kysely<ControlPlaneSchema> | Transaction<ControlPlaneSchema>;

/** Boot events kept per org: the newest ones; older are deleted as new ones arrive. */
export const BOOT_EVENTS_KEPT = 200;

export interface BootEventRow {
  stage: string;
  detail: string | null;
  at: Date;
}

/** Records one boot event and trims the org's history to the newest BOOT_EVENTS_KEPT, in the caller's transaction. */
export async function recordBootEvent(tx: Transaction<ControlPlaneSchema>, orgId: string, stage: string, detail: string | null): Promise<void> {
  await tx.insertInto('org_instance_boot_events').values({ org_id: orgId, stage, detail }).execute();
  await sql`delete from org_instance_boot_events
            where org_id = ${orgId}
              and id < (select id from org_instance_boot_events where org_id = ${orgId} order by id desc offset ${BOOT_EVENTS_KEPT - 1} limit 1)`.execute(tx);
}

export async function listBootEvents(db: Db, orgId: string, limit: number): Promise<BootEventRow[]> {
  return db.selectFrom('org_instance_boot_events').select(['stage', 'detail', 'at']).where('org_id', '=', orgId).orderBy('id', 'desc').limit(limit).execute();
}

export interface AnchorRow {
  count: number;
  head_hash: string;
  reason: string;
  reported_at: Date;
}

const anchorColumns = ['event_count', 'head_hash', 'reason', 'reported_at'] as const;
const toAnchor = (r: { event_count: string | number; head_hash: string; reason: string; reported_at: Date }): AnchorRow => ({
  count: Number(r.event_count),
  head_hash: r.head_hash,
  reason: r.reason,
  reported_at: new Date(r.reported_at),
});

/** The newest report, whatever it said. */
export async function newestAnchor(db: Db, orgId: string): Promise<AnchorRow | null> {
  const row = await db.selectFrom('tenant_audit_anchors').select(anchorColumns).where('org_id', '=', orgId).orderBy('id', 'desc').limit(1).executeTakeFirst();
  return row ? toAnchor(row) : null;
}

/**
 * The anchor a chain is held to: the longest chain ever reported — the first report of that length, should two of
 * one length differ (a chain only grows, so the later one was rewritten). A later, shorter or different report does
 * not replace it: otherwise a rewound chain, once reported, would bless itself.
 */
export async function highWaterAnchor(db: Db, orgId: string): Promise<AnchorRow | null> {
  const row = await db
    .selectFrom('tenant_audit_anchors')
    .select(anchorColumns)
    .where('org_id', '=', orgId)
    .orderBy('event_count', 'desc')
    .orderBy('id', 'asc')
    .limit(1)
    .executeTakeFirst();
  return row ? toAnchor(row) : null;
}

export async function insertAnchor(db: Db, orgId: string, a: { count: number; head_hash: string; reason: string }): Promise<AnchorRow> {
  const row = await db
    .insertInto('tenant_audit_anchors')
    .values({ org_id: orgId, event_count: a.count, head_hash: a.head_hash, reason: a.reason })
    .returning(anchorColumns)
    .executeTakeFirstOrThrow();
  return toAnchor(row);
}

export async function listAnchors(db: Db, orgId: string, limit: number): Promise<AnchorRow[]> {
  const rows = await db.selectFrom('tenant_audit_anchors').select(anchorColumns).where('org_id', '=', orgId).orderBy('id', 'desc').limit(limit).execute();
  return rows.map(toAnchor);
}
