import { sql, type Kysely, type Transaction } from 'kysely';
import type { BudgetLimits, LlmBillingMode, TenantSchema } from '../db/schema.js';
import { BUDGET_PERIOD_WINDOWS, clampReportedSpend, SPEND_LEDGER_RETENTION, storedLimits, type SpendByPeriod } from './periods.js';

/** Queries of the budgets domain: limits, the spend ledger and the billing-mode override. */

type Db = Kysely<TenantSchema>;

/** The stored limits of a live workspace, or undefined when it is missing or removed. */
export async function readBudgetLimits(db: Db, workspaceId: string): Promise<BudgetLimits | undefined> {
  const row = await db
    .selectFrom('workspaces')
    .select('budget_limits')
    .where('id', '=', workspaceId)
    .where('status', '<>', 'removed')
    .executeTakeFirst();
  return row ? storedLimits(row.budget_limits) : undefined;
}

/**
 * Replaces the whole limit map (periods not given are cleared) and keeps the legacy single-limit column equal to
 * the monthly period, for readers that predate multi-period budgets. False when the workspace is missing or removed.
 */
export async function writeBudgetLimits(db: Db, workspaceId: string, limits: BudgetLimits): Promise<boolean> {
  const result = await db
    .updateTable('workspaces')
    .set({ budget_limits: JSON.stringify(limits), budget_limit: limits.monthly ?? null, updated_at: sql`now()` })
    .where('id', '=', workspaceId)
    .where('status', '<>', 'removed')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Rolling-window spend for every period in one pass over the ledger: the outer predicate bounds the scan to the
 * largest window (index on workspace_id, occurred_at), and a FILTER sums each sub-window. No rows → 0.
 */
export async function spendByPeriod(db: Db, workspaceId: string): Promise<SpendByPeriod> {
  const w = BUDGET_PERIOD_WINDOWS;
  const window = (interval: string) => sql`coalesce(sum(delta_cents) filter (where occurred_at > now() - ${sql.lit(interval)}::interval), 0)::bigint`;
  const { rows } = await sql<Record<keyof SpendByPeriod, number | string>>`
    select ${window(w.hourly)} as hourly, ${window(w.daily)} as daily, ${window(w.weekly)} as weekly, ${window(w.monthly)} as monthly
    from workspace_spend_events
    where workspace_id = ${workspaceId} and occurred_at > now() - ${sql.lit(w.monthly)}::interval
  `.execute(db);
  const row = rows[0];
  // int8 arrives as a number from node-postgres (see core/db) and may arrive otherwise from PGlite: normalise.
  return {
    hourly: Number(row?.hourly ?? 0),
    daily: Number(row?.daily ?? 0),
    weekly: Number(row?.weekly ?? 0),
    monthly: Number(row?.monthly ?? 0),
  };
}

/** The billing-mode override of a live workspace (null: none), or undefined when it is missing or removed. */
export async function readBillingModeOverride(db: Db, workspaceId: string): Promise<{ override: LlmBillingMode | null } | undefined> {
  const row = await db
    .selectFrom('workspaces')
    .select('llm_billing_mode')
    .where('id', '=', workspaceId)
    .where('status', '<>', 'removed')
    .executeTakeFirst();
  return row ? { override: row.llm_billing_mode } : undefined;
}

/** Sets (or, with null, clears) the override. False when the workspace is missing or removed. */
export async function writeBillingModeOverride(db: Db, workspaceId: string, mode: LlmBillingMode | null): Promise<boolean> {
  const result = await db
    .updateTable('workspaces')
    .set({ llm_billing_mode: mode, updated_at: sql`now()` })
    .where('id', '=', workspaceId)
    .where('status', '<>', 'removed')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Ingests the cumulative `monthly_spend` (cents) a heartbeat reports: the positive delta since the last report is
 * appended to the spend ledger (a decrease is a reset: the new value is the delta).
 *
 * - The value is clamped to 0..1e12 (reference registry handler) and truncated to whole cents.
 * - 0 means "nothing reported" and changes nothing, as in the reference, which never writes a zero: a heartbeat
 *   that omits the field must not look like a reset, or the next report would be counted a second time.
 * - The workspace row is locked for the read-compare-write, so concurrent heartbeats of one workspace cannot both
 *   count the same increase. Rows older than the retention are pruned for that workspace on every insert.
 * - A missing or removed workspace is ignored (a late heartbeat from a container being torn down).
 *
 * Runs in its own transaction, or inside the caller's when given one.
 */
export async function recordReportedSpend(db: Kysely<TenantSchema>, workspaceId: string, cumulativeCents: number): Promise<ExceededBudget[]> {
  const reported = clampReportedSpend(cumulativeCents);
  if (reported === 0) return [];
  const record = async (trx: Transaction<TenantSchema>): Promise<ExceededBudget[]> => {
    const row = await trx
      .selectFrom('workspaces')
      .select('monthly_spend')
      .where('id', '=', workspaceId)
      .where('status', '<>', 'removed')
      .forUpdate()
      .executeTakeFirst();
    if (!row) return [];
    const previous = Number(row.monthly_spend);
    if (reported === previous) return [];
    const limits = (await readBudgetLimits(trx, workspaceId)) ?? {};
    const before = await spendByPeriod(trx, workspaceId);
    const delta = reported > previous ? reported - previous : reported;
    await trx.insertInto('workspace_spend_events').values({ workspace_id: workspaceId, delta_cents: delta }).execute();
    await trx
      .deleteFrom('workspace_spend_events')
      .where('workspace_id', '=', workspaceId)
      .where('occurred_at', '<', sql<Date>`now() - ${sql.lit(SPEND_LEDGER_RETENTION)}::interval`)
      .execute();
    await trx.updateTable('workspaces').set({ monthly_spend: reported }).where('id', '=', workspaceId).execute();
    // The periods this report pushed over their limit (not those already over): one BUDGET_EXCEEDED per crossing.
    const after = await spendByPeriod(trx, workspaceId);
    const crossed: ExceededBudget[] = [];
    for (const [period, limit] of Object.entries(limits) as Array<[keyof SpendByPeriod, number | null | undefined]>) {
      if (typeof limit !== 'number') continue;
      if (before[period] <= limit && after[period] > limit) crossed.push({ period, limit, spend: after[period] });
    }
    return crossed;
  };
  if (db.isTransaction) return record(db as Transaction<TenantSchema>);
  return db.transaction().execute(record);
}

/** A budget period whose limit a spend report has just exceeded (USD cents). */
export interface ExceededBudget {
  period: keyof SpendByPeriod;
  limit: number;
  spend: number;
}
