import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { VerifyResult } from './chain.js';
import type { AuditSchema } from './schema.js';

/**
 * An audit anchor: a chain length and head hash the chain once had, kept outside the database that holds the chain
 * (a tenant's, at its control plane). Deleting the newest rows and rewinding `audit_head` leaves a chain that still
 * verifies on its own; it cannot reach back to an anchor it fell behind, nor rewrite the row the anchor names.
 */
export type AnchorLookup =
  | { checked: true; count: number; head_hash: string; reported_at: string }
  | { checked: false; reason: string };

export const AnchorLookupSchema = Type.Union([
  Type.Object({ checked: Type.Literal(true), count: Type.Integer(), head_hash: Type.String(), reported_at: Type.String({ format: 'date-time' }) }),
  Type.Object({ checked: Type.Literal(false), reason: Type.String() }),
]);

export type AnchoredVerifyResult = VerifyResult & { anchor: AnchorLookup; anchored_count?: number; anchored_hash?: string };

/**
 * Holds a locally verified chain to its anchor. A local failure stands as it is (it names the row); a chain that
 * verifies but is shorter than the anchor is `behind anchor`; one whose row at the anchored position has another
 * hash is `diverged from anchor` (rewritten and re-hashed). Without an anchor the local result stands.
 */
export async function checkAgainstAnchor(database: Kysely<AuditSchema>, local: VerifyResult, anchor: AnchorLookup): Promise<AnchoredVerifyResult> {
  if (!local.ok || !anchor.checked || anchor.count === 0) return { ...local, anchor };
  const anchored = { anchored_count: anchor.count, anchored_hash: anchor.head_hash };
  if (local.count < anchor.count) {
    return { ok: false, count: local.count, broken_at: local.count + 1, event_id: null, reason: 'behind anchor', ...anchored, anchor };
  }
  const row = await database.selectFrom('audit_events').select(['id', 'hash']).where('seq', '=', anchor.count).executeTakeFirst();
  if (!row || row.hash !== anchor.head_hash) {
    return { ok: false, count: local.count, broken_at: anchor.count, event_id: row?.id ?? null, reason: 'diverged from anchor', ...anchored, anchor };
  }
  return { ...local, anchor };
}
