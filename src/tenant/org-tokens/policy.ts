import { sql, type Kysely, type Transaction } from 'kysely';
import type { Principal } from '../../core/auth/principal.js';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import { DomainError } from '../../core/errors.js';
import type { TenantSchema } from '../db/schema.js';

/**
 * The org key policy (issue 14): a maximum lifetime for new keys and whether they must expire at all. Set by an admin
 * (PUT /org/settings/key-policy, audited), enforced by the tenant whenever a key is minted — whoever mints it, the
 * console, the CLI or the ADMIN_TOKEN. Keys that exist already are not touched; a rotation keeps its key's expiry.
 */
export interface KeyPolicy {
  max_lifetime_days: number | null;
  require_expiry: boolean;
}

export const NO_POLICY: KeyPolicy = { max_lifetime_days: null, require_expiry: false };
const DAY_MS = 24 * 3600_000;

export async function getKeyPolicy(db: Kysely<TenantSchema> | Transaction<TenantSchema>): Promise<KeyPolicy & { updated_by: string | null; updated_at: Date | null }> {
  const row = await db.selectFrom('org_key_policy').selectAll().where('id', '=', 1).executeTakeFirst();
  if (!row) return { ...NO_POLICY, updated_by: null, updated_at: null };
  return { max_lifetime_days: row.max_lifetime_days, require_expiry: row.require_expiry, updated_by: row.updated_by, updated_at: new Date(row.updated_at) };
}

export async function saveKeyPolicy(db: Kysely<TenantSchema>, principal: Principal, policy: KeyPolicy, audit: AuditEventInput) {
  return db.transaction().execute(async (trx) => {
    const values = { max_lifetime_days: policy.max_lifetime_days, require_expiry: policy.require_expiry, updated_by: principal.actor };
    await trx
      .insertInto('org_key_policy')
      .values({ id: 1, ...values })
      .onConflict((oc) => oc.column('id').doUpdateSet({ ...values, updated_at: sql<Date>`now()` }))
      .execute();
    await appendAuditEvents(trx, [audit]);
    return getKeyPolicy(trx);
  });
}

/** Refuses a new key's effective expiry (null: never) that breaks the policy, naming the rule (422). */
export function enforceKeyPolicy(policy: KeyPolicy, expiresAt: Date | null, now = new Date()): void {
  if (policy.require_expiry && expiresAt === null) {
    throw new DomainError('KEY_POLICY_EXPIRY_REQUIRED', 'this org requires every new key to expire: set expires_at', { field: 'expires_at', rule: 'require_expiry' });
  }
  if (policy.max_lifetime_days !== null) {
    const latest = new Date(now.getTime() + policy.max_lifetime_days * DAY_MS);
    if (expiresAt === null || expiresAt.getTime() > latest.getTime()) {
      throw new DomainError(
        'KEY_POLICY_LIFETIME_EXCEEDED',
        `this org's keys may live at most ${policy.max_lifetime_days} day${policy.max_lifetime_days === 1 ? '' : 's'}: set expires_at no later than ${latest.toISOString()}`,
        { field: 'expires_at', rule: 'max_lifetime_days', max_lifetime_days: policy.max_lifetime_days, latest_expires_at: latest.toISOString() },
      );
    }
  }
}
