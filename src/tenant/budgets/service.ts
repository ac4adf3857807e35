import type { Kysely } from 'kysely';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import { DomainError, ValidationError } from '../../core/errors.js';
import { BUDGET_PERIODS, LLM_BILLING_MODES, type BudgetLimits, type LlmBillingMode, type TenantSchema } from '../db/schema.js';
import { budgetView, isBudgetPeriod, type BudgetViewBody } from './periods.js';
import { readBillingModeOverride, readBudgetLimits, spendByPeriod, writeBillingModeOverride, writeBudgetLimits } from './store.js';

type Db = Kysely<TenantSchema>;

const isCents = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/**
 * The PATCH body as the new, complete limit map. The checks and their order are the reference's (PatchBudget,
 * spec §3.5), and so are the messages, which clients match on:
 * - `budget_limits` wins when both fields are sent; the legacy field is then not looked at, as in the reference;
 * - in `budget_limits`, every value's type is checked first (Go decodes the whole map before looking at keys),
 *   then each key in order: unknown period, then negative;
 * - `budget_limits: null` decodes to an empty map in the reference, so it clears every period;
 * - the legacy `budget_limit` sets the monthly period only, clearing the others.
 */
export function parseBudgetUpdate(body: { budget_limits?: unknown; budget_limit?: unknown }): BudgetLimits {
  const hasLimits = Object.hasOwn(body, 'budget_limits');
  if (!hasLimits && !Object.hasOwn(body, 'budget_limit')) {
    throw new ValidationError('budget_limits or budget_limit field is required');
  }
  const limits: BudgetLimits = {};
  if (hasLimits) {
    const raw = body.budget_limits;
    if (raw === null) return limits;
    const typeError = () => new ValidationError('budget_limits must be an object of period→int|null', { field: 'budget_limits' });
    if (typeof raw !== 'object' || Array.isArray(raw)) throw typeError();
    const entries: Array<[string, number | null]> = [];
    for (const [period, value] of Object.entries(raw)) {
      if (value !== null && !isCents(value)) throw typeError();
      entries.push([period, value]);
    }
    for (const [period, value] of entries) {
      if (!isBudgetPeriod(period)) {
        throw new ValidationError(`unknown budget period: ${period} (allowed: ${BUDGET_PERIODS.join(', ')})`, { field: 'budget_limits' });
      }
      if (value === null) continue; // null clears the period
      if (value < 0) throw new ValidationError(`budget limit for ${period} must be >= 0 (USD cents)`, { field: 'budget_limits' });
      limits[period] = value; // 0 is a real ceiling: block all spend in that period
    }
    return limits;
  }
  const legacy = body.budget_limit;
  if (legacy === null) return limits;
  if (!isCents(legacy)) throw new ValidationError('budget_limit must be an integer (USD cents) or null', { field: 'budget_limit' });
  if (legacy < 0) throw new ValidationError('budget_limit must be >= 0 (USD cents)', { field: 'budget_limit' });
  limits.monthly = legacy;
  return limits;
}

export async function getBudget(db: Db, workspaceId: string): Promise<BudgetViewBody> {
  const limits = await readBudgetLimits(db, workspaceId);
  if (!limits) throw new DomainError('WORKSPACE_NOT_FOUND');
  return budgetView(limits, await spendByPeriod(db, workspaceId));
}

/** Replaces the workspace's limit map, with its audit event, in one transaction; answers the new view. */
export async function updateBudget(db: Db, workspaceId: string, limits: BudgetLimits, audit: AuditEventInput): Promise<BudgetViewBody> {
  await db.transaction().execute(async (trx) => {
    if (!(await writeBudgetLimits(trx, workspaceId, limits))) throw new DomainError('WORKSPACE_NOT_FOUND');
    await appendAuditEvents(trx, [audit]);
  });
  return budgetView(limits, await spendByPeriod(db, workspaceId));
}

// ---------------------------------------------------------------------------------------------------------------
// LLM billing mode (spec §3.6)
// ---------------------------------------------------------------------------------------------------------------

export type BillingModeSource = 'workspace_override' | 'org_default';

export interface BillingModeViewBody {
  workspace_id: string;
  resolved_mode: LlmBillingMode;
  workspace_override: LlmBillingMode | null;
  org_default: LlmBillingMode;
  source: BillingModeSource;
}

/**
 * Resolution: the workspace's explicit override, else the org default from config. The reference derives a
 * fallback from the runtime's provider; this server has no provider registry, so the org default stands in for it
 * and `source` says which of the two applied.
 */
export function billingModeView(workspaceId: string, override: LlmBillingMode | null, orgDefault: LlmBillingMode): BillingModeViewBody {
  return {
    workspace_id: workspaceId,
    resolved_mode: override ?? orgDefault,
    workspace_override: override,
    org_default: orgDefault,
    source: override === null ? 'org_default' : 'workspace_override',
  };
}

/** The PUT body's mode, with the reference's checks and messages; null clears the override. */
export function parseBillingModeUpdate(body: { mode?: unknown }): LlmBillingMode | null {
  if (!Object.hasOwn(body, 'mode')) throw new ValidationError("missing required field 'mode' (use null to clear override)", { field: 'mode' });
  const mode = body.mode;
  if (mode === null) return null;
  if (typeof mode !== 'string') throw new ValidationError('mode must be a string or null', { field: 'mode' });
  if (mode === '') throw new ValidationError(`mode must be one of ${LLM_BILLING_MODES.join(', ')}, or null to clear`, { field: 'mode' });
  if (!(LLM_BILLING_MODES as readonly string[]).includes(mode)) {
    throw new ValidationError(`unknown billing mode ${JSON.stringify(mode)} (allowed: ${LLM_BILLING_MODES.join(', ')})`, { field: 'mode' });
  }
  return mode as LlmBillingMode;
}

/** Unlike the reference (200 with a derived default, spec §10 item 13), an unknown workspace is 404. */
export async function getBillingMode(db: Db, workspaceId: string, orgDefault: LlmBillingMode): Promise<BillingModeViewBody> {
  const found = await readBillingModeOverride(db, workspaceId);
  if (!found) throw new DomainError('WORKSPACE_NOT_FOUND');
  return billingModeView(workspaceId, found.override, orgDefault);
}

export async function setBillingMode(
  db: Db,
  workspaceId: string,
  mode: LlmBillingMode | null,
  orgDefault: LlmBillingMode,
  audit: AuditEventInput,
): Promise<BillingModeViewBody> {
  await db.transaction().execute(async (trx) => {
    if (!(await writeBillingModeOverride(trx, workspaceId, mode))) throw new DomainError('WORKSPACE_NOT_FOUND');
    await appendAuditEvents(trx, [audit]);
  });
  return billingModeView(workspaceId, mode, orgDefault);
}
