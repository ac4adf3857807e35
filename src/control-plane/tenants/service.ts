import type { Kysely } from 'kysely';
import { DomainError } from '../../core/errors.js';
import type { ControlPlaneSchema } from '../db/schema.js';
import { highWaterAnchor, insertAnchor, newestAnchor, recordBootEvent, type AnchorRow } from './store.js';
import type { TenantBootEvent } from '../provisioning/provisioner.js';

export interface AnchorReport {
  count: number;
  head_hash: string;
  reason: string;
}

export type AnchorOutcome =
  | { kind: 'created'; anchor: AnchorRow }
  | { kind: 'unchanged'; anchor: AnchorRow }
  /** Recorded (or already on record) and loud: the chain is shorter than, or differs at the length of, the high-water anchor. */
  | { kind: 'regression'; anchor: AnchorRow; highWater: AnchorRow };

/**
 * Records a tenant's audit chain head. One transaction, holding the org's row, so two reports of one tenant queue.
 *
 * - identical to the newest report (same count and hash): not stored again;
 * - shorter than the longest chain ever reported, or as long but with another head: stored (the history shows
 *   when it happened) and answered 409 AUDIT_ANCHOR_REGRESSION — a chain only grows, so it was rewound or
 *   rewritten (or restored from a backup, which an operator must know about just the same);
 * - otherwise stored.
 */
export async function reportAnchor(db: Kysely<ControlPlaneSchema>, orgId: string, report: AnchorReport): Promise<AnchorOutcome> {
  return db.transaction().execute(async (tx) => {
    await tx.selectFrom('organizations').select('id').where('id', '=', orgId).forUpdate().execute();
    const highWater = await highWaterAnchor(tx, orgId);
    const behind = highWater !== null && (report.count < highWater.count || (report.count === highWater.count && report.head_hash !== highWater.head_hash));
    const newest = await newestAnchor(tx, orgId);
    const same = newest !== null && newest.count === report.count && newest.head_hash === report.head_hash;
    const anchor = same ? newest : await insertAnchor(tx, orgId, report);
    if (behind) return { kind: 'regression', anchor, highWater };
    return { kind: same ? 'unchanged' : 'created', anchor };
  });
}

/** The `detail` stored for a boot event: its detail, and the URL it reported (the table has no column of its own for it). */
export function bootEventDetail(event: TenantBootEvent): string | null {
  const parts = [event.detail, event.url !== undefined ? `url=${event.url}` : undefined].filter((p): p is string => p !== undefined && p !== '');
  return parts.length > 0 ? parts.join(' ') : null;
}

export async function recordTenantBootEvent(db: Kysely<ControlPlaneSchema>, orgId: string, event: TenantBootEvent): Promise<void> {
  await db.transaction().execute((tx) => recordBootEvent(tx, orgId, event.stage, bootEventDetail(event)));
}

/** The org a tenant-tier request is authenticated to (the tier hook set it; a principal without one is a bug). */
export function tenantOrgOf(principal: { orgId: string | null } | null | undefined): string {
  if (!principal?.orgId) throw new DomainError('INVALID_ADMIN_AUTH', 'invalid tenant admin token');
  return principal.orgId;
}
