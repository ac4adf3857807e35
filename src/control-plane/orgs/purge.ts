import { sql, type Kysely } from 'kysely';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import { DomainError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { ControlPlaneContext } from '../context.js';
import type { ControlPlaneSchema } from '../db/schema.js';
import type { OrgRow } from './store.js';

/**
 * The delete cascade (reference §4.6, `executeOrgPurge`), as a step journal: one `org_purge_jobs` row per org being
 * deleted records the last step done, so a delete that failed half-way (or a CP that died mid-delete) is finished by
 * the next delete of the same org instead of starting over. The steps, in order:
 *
 * 1. `workspaces` — terminate every workspace runtime the CP runs for the org (reference step 3: orphaned workspace
 *    machines are what the reference leaked). Skipped while the CP runs no workspaces.
 * 2. `tenant` — the provisioner stops and removes the tenant: process, database, files.
 * 3. `rows` — the org's rows go (members, invitations, instance, billing cascade with them); the `org_purges` record
 *    (the slug's tombstone) and the audit event are written in the same transaction.
 *
 * The order is the point (issue 7): the slug is released only once the old tenant is gone. A step that fails stops
 * the cascade with nothing deleted — the org, its members and its slug stay — and the caller gets 503 to retry; a
 * slug handed to a new owner while the old tenant still runs would let the new owner's members reach it.
 *
 * Two deletes of one org never run at once, on any replica: a delete holds the job row's lease (`lease_until`) while
 * it runs; a second one meanwhile is 409 PURGE_IN_PROGRESS. A lease outlives its holder only by PURGE_LEASE_SECONDS
 * (a CP that died mid-delete): after that the next delete takes the job over and resumes it.
 */
export const PURGE_STEPS = ['workspaces', 'tenant', 'rows'] as const;
export type PurgeStep = (typeof PURGE_STEPS)[number];

export interface PurgeStepReport {
  step: PurgeStep;
  /** `already_done`: an earlier, interrupted delete of this org did it (the journal says so). */
  outcome: 'done' | 'already_done' | 'skipped';
  detail?: string;
}

/** How long a running delete holds its org: far beyond a deprovision's wall time (reference: 30–90 s). */
export const PURGE_LEASE_SECONDS = 600;

type Db = Kysely<ControlPlaneSchema>;

/** Takes the org's job (creating it), or says who holds it. Answers the last step an earlier delete finished. */
async function claim(db: Db, org: Pick<OrgRow, 'id' | 'slug'>, actor: string): Promise<PurgeStep | null> {
  await db.insertInto('org_purge_jobs').values({ org_id: org.id, slug: org.slug, requested_by: actor }).onConflict((oc) => oc.column('org_id').doNothing()).execute();
  const row = await db
    .updateTable('org_purge_jobs')
    .set({ lease_until: sql<Date>`now() + make_interval(secs => ${PURGE_LEASE_SECONDS})`, requested_by: actor, updated_at: sql<Date>`now()` })
    .where('org_id', '=', org.id)
    .where('finished_at', 'is', null)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', sql<Date>`now()`)]))
    .returning('last_step')
    .executeTakeFirst();
  if (row) return (row.last_step as PurgeStep | null) ?? null;
  const job = await db.selectFrom('org_purge_jobs').select('finished_at').where('org_id', '=', org.id).executeTakeFirst();
  // Finished between the caller's lookup and here: the org is gone, as for any repeat.
  if (job?.finished_at) throw new DomainError('ORG_NOT_FOUND');
  throw new DomainError('PURGE_IN_PROGRESS', `a delete of org "${org.slug}" is already running; retry shortly`, { retryable: true });
}

async function advance(db: Db, orgId: string, step: PurgeStep, error: string | null = null): Promise<void> {
  await db.updateTable('org_purge_jobs').set({ last_step: step, last_error: error, updated_at: sql<Date>`now()` }).where('org_id', '=', orgId).execute();
}

const doneThrough = (last: PurgeStep | null) => new Set<PurgeStep>(last ? PURGE_STEPS.slice(0, PURGE_STEPS.indexOf(last) + 1) : []);

/** Runs (or resumes) the org's delete cascade; answers what each step did. See the module comment. */
export async function purgeOrg(ctx: ControlPlaneContext, org: Pick<OrgRow, 'id' | 'slug' | 'provider'>, actor: string, audit: AuditEventInput): Promise<PurgeStepReport[]> {
  const done = doneThrough(await claim(ctx.db, org, actor));
  const report: PurgeStepReport[] = [];
  const failed = async (step: PurgeStep, err: unknown, message: string): Promise<never> => {
    ctx.log.error({ err, org: org.slug, step }, 'org delete step failed; the org and its slug are kept');
    await ctx.db
      .updateTable('org_purge_jobs')
      .set({ last_error: `${step}: ${err instanceof Error ? err.message : String(err)}`, updated_at: sql<Date>`now()` })
      .where('org_id', '=', org.id)
      .execute();
    throw new DomainError('TENANT_DEPROVISION_FAILED', message, { retryable: true, step });
  };
  try {
    if (done.has('workspaces')) report.push({ step: 'workspaces', outcome: 'already_done' });
    else if (!ctx.terminateOrgWorkspaces) {
      report.push({ step: 'workspaces', outcome: 'skipped', detail: 'this control plane runs no workspaces' });
      await advance(ctx.db, org.id, 'workspaces');
    } else {
      let stopped: number;
      try {
        stopped = await ctx.terminateOrgWorkspaces(org.id);
      } catch (err) {
        return await failed('workspaces', err, "the org's workspaces could not be stopped; nothing was deleted — the org and its slug are kept. Retry the delete shortly");
      }
      report.push({ step: 'workspaces', outcome: 'done', detail: `${stopped} workspace(s) terminated` });
      await advance(ctx.db, org.id, 'workspaces');
    }

    if (done.has('tenant')) report.push({ step: 'tenant', outcome: 'already_done' });
    else {
      try {
        await ctx.provisioner.deprovision({ orgId: org.id, slug: org.slug, provider: org.provider });
      } catch (err) {
        return await failed('tenant', err, "the org's tenant could not be stopped; nothing was deleted — the org and its slug are kept. Retry the delete shortly");
      }
      report.push({ step: 'tenant', outcome: 'done', detail: `stopped and removed by the ${ctx.provisioner.name} provisioner` });
      await advance(ctx.db, org.id, 'tenant');
    }

    await ctx.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('organizations').where('id', '=', org.id).execute();
      await tx.insertInto('org_purges').values({ id: newId('purge'), org_id: org.id, slug: org.slug, purged_by: actor, last_step: 'rows' }).execute();
      await tx
        .updateTable('org_purge_jobs')
        .set({ last_step: 'rows', last_error: null, lease_until: null, finished_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
        .where('org_id', '=', org.id)
        .execute();
      await appendAuditEvents(tx, [audit]);
    });
    // The edge forgets the tenant at once: the org is gone, its host answers 404 from the next request.
    ctx.forgetTenantRoute?.(org.slug);
    report.push({ step: 'rows', outcome: 'done' });
    return report;
  } finally {
    // A failed step hands the job back at once: the retry the 503 asks for must not meet a 409.
    await ctx.db
      .updateTable('org_purge_jobs')
      .set({ lease_until: null })
      .where('org_id', '=', org.id)
      .where('finished_at', 'is', null)
      .execute()
      .catch((err: unknown) => ctx.log.error({ err, org: org.slug }, 'could not release the delete lease; it expires by itself'));
  }
}
