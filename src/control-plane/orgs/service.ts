import type { Kysely, Transaction } from 'kysely';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import { isUniqueViolation } from '../../core/db/index.js';
import { DomainError } from '../../core/errors.js';
import { newUuid } from '../../core/ids.js';
import type { ControlPlaneContext } from '../context.js';
import type { ControlPlaneSchema, PlanId } from '../db/schema.js';
import { countFreeOrgsOwnedBy, findInstance, type OrgRow } from './store.js';

/**
 * Slugs that name the platform's own hosts (reference §1, "mirrored from the CP list"), plus a few more that would
 * make a tenant host look like ours.
 */
export const RESERVED_SLUGS = new Set([
  'app', 'www', 'api', 'admin', 'cp', 'dashboard', 'billing', 'status', 'docs',
  'auth', 'login', 'signup', 'console', 'help', 'support', 'mail', 'static', 'assets', 'internal', 'molecule', 'platform',
]);

export function assertSlugAvailable(slug: string): void {
  if (RESERVED_SLUGS.has(slug)) throw new DomainError('SLUG_TAKEN', `slug "${slug}" is reserved`, { field: 'slug', reserved: true });
}

const DAY_MS = 86_400_000;

/**
 * A purged org's slug stays refused for SLUG_TOMBSTONE_DAYS (issue 7): whatever still addresses the old org by its
 * slug — a tenant not yet gone, a bookmark, a client's config, a cached lookup — must not reach a new org that took
 * the name. 409 SLUG_TAKEN with `reason: "recently_deleted"` and the date the slug becomes free.
 */
export async function assertSlugNotTombstoned(db: Kysely<ControlPlaneSchema> | Transaction<ControlPlaneSchema>, slug: string, days: number): Promise<void> {
  if (days <= 0) return;
  const purge = await db
    .selectFrom('org_purges')
    .select('purged_at')
    .where('slug', '=', slug)
    .where('purged_at', '>', new Date(Date.now() - days * DAY_MS))
    .orderBy('purged_at', 'desc')
    .executeTakeFirst();
  if (!purge) return;
  const purgedAt = new Date(purge.purged_at);
  const availableAt = new Date(purgedAt.getTime() + days * DAY_MS).toISOString();
  throw new DomainError(
    'SLUG_TAKEN',
    `slug "${slug}" belonged to an org deleted on ${purgedAt.toISOString()}; it can be reused from ${availableAt} (deleted orgs' slugs are held for ${days} days)`,
    { field: 'slug', reason: 'recently_deleted', available_at: availableAt },
  );
}

export interface CreateOrgInput {
  slug: string;
  name: string;
  plan: PlanId;
  /** The user who becomes its owner; null for an org a partner key creates (it has no members, its partner manages it). */
  ownerUserId: string | null;
  /** Set when a partner key creates the org: the org is that partner's, and invoiced to it (no checkout). */
  partnerId?: string;
  provider: string;
  actor: string;
  /** The free orgs the owner may hold: checked in the create's own transaction, under a lock on the owner. */
  freeQuota?: number;
}

/** The instance row a provisioning org starts with: the first stage of the boot order, nothing done yet. */
export const FIRST_STAGE = { status: 'provisioning' as const, stage: 'launching', progress: 0, eta_seconds: 240 };

/**
 * Creates an org in one transaction: the org, its owner, its billing start (plan, credits, ledger), its instance
 * row and the request's audit event. Provisioning is handed to the TenantProvisioner after commit.
 */
export async function createOrg(ctx: ControlPlaneContext, input: CreateOrgInput, audit: AuditEventInput): Promise<OrgRow> {
  assertSlugAvailable(input.slug);
  let row: OrgRow;
  try {
    row = await ctx.db.transaction().execute(async (tx) => {
      if (input.plan === 'free' && input.freeQuota !== undefined && input.ownerUserId !== null) await assertFreeQuota(tx, input.ownerUserId, input.freeQuota);
      const id = newUuid();
      await tx
        .insertInto('organizations')
        .values({
          id,
          slug: input.slug,
          name: input.name,
          provider: input.provider,
          credits_balance: 0,
          plan_monthly_credits: 0,
          overage_used_credits: 0,
          overage_cap_credits: 0,
          last_error: null,
          created_by: input.actor,
          partner_id: input.partnerId ?? null,
        })
        .execute();
      // After the insert, not before: an insert that waited on a concurrent purge of the same slug (unique index) sees
      // that purge's tombstone here, once it has committed.
      await assertSlugNotTombstoned(tx, input.slug, ctx.config.SLUG_TOMBSTONE_DAYS);
      if (input.ownerUserId !== null) await tx.insertInto('org_members').values({ org_id: id, user_id: input.ownerUserId, role: 'owner', invited_by: null }).execute();
      const status = await ctx.billing.initializeOrg(tx, { id, plan: input.plan, invoicedToPartner: input.partnerId !== undefined }, input.actor);
      await setOrgStatus(tx, id, status, ctx.provisioner.name);
      await appendAuditEvents(tx, [audit]);
      return tx.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new DomainError('SLUG_TAKEN', `slug "${input.slug}" is already taken`, { field: 'slug' });
    throw err;
  }
  if (row.status === 'provisioning') await startProvisioning(ctx, row);
  return row;
}

/**
 * Counts the owner's free orgs while holding their user row (`select … for update`), so concurrent creates by one
 * user queue here one transaction at a time: 20 parallel creates used to yield 14 free orgs against a cap of 3
 * (issue 7 item 7), because each counted before any had inserted.
 */
async function assertFreeQuota(tx: Transaction<ControlPlaneSchema>, userId: string, quota: number): Promise<void> {
  await tx.selectFrom('users').select('id').where('id', '=', userId).forUpdate().execute();
  const owned = await countFreeOrgsOwnedBy(tx, userId);
  if (owned >= quota) {
    throw new DomainError('PAYMENT_REQUIRED', `free plan quota reached: you already own ${owned} free org(s); choose a paid plan or upgrade one`, { quota });
  }
}

/** Moves an org to `status`; entering `provisioning` creates its instance row (once). */
export async function setOrgStatus(tx: Transaction<ControlPlaneSchema>, orgId: string, status: 'provisioning' | 'awaiting_payment', provisionerName: string) {
  await tx.updateTable('organizations').set({ status, updated_at: new Date() }).where('id', '=', orgId).execute();
  if (status === 'provisioning') {
    await tx
      .insertInto('org_instances')
      .values({ org_id: orgId, ...FIRST_STAGE, message: waitingMessage(provisionerName) })
      .onConflict((oc) => oc.column('org_id').doNothing())
      .execute();
  }
}

export function waitingMessage(provisionerName: string): string {
  return provisionerName === 'none'
    ? 'queued: no tenant provisioner is configured on this control plane (TENANT_PROVISIONER=none)'
    : `queued for the ${provisionerName} tenant provisioner`;
}

/** Hands the org to the provisioner; a provisioner that refuses marks the org failed with the reason. */
export async function startProvisioning(ctx: ControlPlaneContext, org: Pick<OrgRow, 'id' | 'slug' | 'provider'>): Promise<void> {
  try {
    await ctx.provisioner.provision({ orgId: org.id, slug: org.slug, provider: org.provider });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    ctx.log.error({ err, org: org.slug }, 'tenant provisioning could not start');
    await ctx.db.updateTable('organizations').set({ status: 'failed', last_error: message, updated_at: new Date() }).where('id', '=', org.id).execute();
    await ctx.db.updateTable('org_instances').set({ status: 'failed', last_error: message, updated_at: new Date() }).where('org_id', '=', org.id).execute();
  }
}

/** The delete cascade (reference §4.6) lives in ./purge.ts: a resumable step journal shared by the owner and admin deletes. */
export { purgeOrg, type PurgeStepReport } from './purge.js';

/**
 * Where users reach an org's tenant: `<scheme>://<slug>.<TENANT_DOMAIN>[:port]`, through the edge, with the scheme
 * and port of the CP's public URL. The tenant's own (loopback) address is never published.
 */
export function tenantPublicUrl(ctx: Pick<ControlPlaneContext, 'publicUrl' | 'config'>, slug: string): string {
  const base = new URL(ctx.publicUrl);
  return `${base.protocol}//${slug}.${ctx.config.TENANT_DOMAIN ?? 'localhost'}${base.port ? `:${base.port}` : ''}`;
}

export interface ProvisionStatus {
  status: 'provisioning' | 'running' | 'failed';
  stage: 'launching' | 'installing' | 'starting' | 'configuring_https' | 'ready' | 'failed';
  progress: number;
  message: string;
  eta_seconds: number;
  url?: string;
}

const STAGES = new Set(['launching', 'installing', 'starting', 'configuring_https', 'ready', 'failed']);

/** Reference §4.3. Progress comes from the stored row, which only ever moves forward. */
export async function provisionStatusOf(ctx: ControlPlaneContext, org: OrgRow): Promise<ProvisionStatus> {
  if (org.status === 'awaiting_payment') {
    return { status: 'provisioning', stage: 'launching', progress: 0, message: 'awaiting payment: complete checkout to start provisioning', eta_seconds: FIRST_STAGE.eta_seconds };
  }
  const instance = await findInstance(ctx.db, org.id);
  if (!instance) return { status: 'provisioning', stage: 'launching', progress: 0, message: 'queued', eta_seconds: FIRST_STAGE.eta_seconds };
  if (instance.status === 'running') {
    return { status: 'running', stage: 'ready', progress: 100, message: 'ready', eta_seconds: 0, ...(instance.url ? { url: tenantPublicUrl(ctx, org.slug) } : {}) };
  }
  if (instance.status !== 'provisioning' || org.status === 'failed') {
    return { status: 'failed', stage: 'failed', progress: instance.progress, message: instance.last_error ?? org.last_error ?? 'provisioning failed', eta_seconds: 0 };
  }
  const stage = (STAGES.has(instance.stage) ? instance.stage : 'launching') as ProvisionStatus['stage'];
  return { status: 'provisioning', stage, progress: instance.progress, message: instance.message, eta_seconds: Math.max(0, instance.eta_seconds) };
}
