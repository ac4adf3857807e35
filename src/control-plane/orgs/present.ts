import type { MemberRole } from '../db/schema.js';
import type { Organization } from './schemas.js';
import type { OrgRow } from './store.js';

const iso = (d: Date | string) => new Date(d).toISOString();

export function presentOrg(row: OrgRow, role?: MemberRole): Organization {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    plan: row.plan,
    status: row.status,
    provider: row.provider,
    is_canary: row.is_canary,
    credits_balance: Number(row.credits_balance),
    plan_monthly_credits: Number(row.plan_monthly_credits),
    overage_used_credits: Number(row.overage_used_credits),
    overage_cap_credits: Number(row.overage_cap_credits),
    last_error: row.last_error,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    ...(role ? { role } : {}),
  };
}
