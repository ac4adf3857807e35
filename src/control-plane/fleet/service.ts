import { setTimeout as sleep } from 'node:timers/promises';
import { isReservedEnvName } from '../../core/compute/reserved-env.js';
import { DomainError, ValidationError } from '../../core/errors.js';
import type { ControlPlaneContext } from '../context.js';
import { findInstance, findOrgBySlug, type OrgRow } from '../orgs/store.js';
import { PendingTenantProvisioner, type TenantProvisionRequest, type TenantRedeployResult } from '../provisioning/provisioner.js';
import type { FleetRedeployRequest, FleetRedeployResponse, FleetTenantResult, WorkspaceEnvRequest } from './schemas.js';
import type { TenantClient } from './tenant-client.js';

export async function requireOrg(ctx: ControlPlaneContext, slug: string): Promise<OrgRow> {
  const org = await findOrgBySlug(ctx.db, slug);
  if (!org) throw new DomainError('ORG_NOT_FOUND', `org "${slug}" not found`);
  return org;
}

export const provisionRequestOf = (org: Pick<OrgRow, 'id' | 'slug' | 'provider'>): TenantProvisionRequest => ({ orgId: org.id, slug: org.slug, provider: org.provider });

/**
 * 503 PROVISIONER_UNAVAILABLE when nothing runs tenants here (TENANT_PROVISIONER=none): asked before anything is
 * changed, so a rotation never mints a token no tenant will ever be given (reference: "503 when the Redeployer is not
 * wired").
 */
export function requireRunningProvisioner(ctx: ControlPlaneContext): void {
  if (ctx.provisioner instanceof PendingTenantProvisioner || ctx.provisioner.name === 'none') {
    throw new DomainError('PROVISIONER_UNAVAILABLE', 'no tenant provisioner runs tenants on this control plane (TENANT_PROVISIONER=none)');
  }
}

/** A redeploy that threw counts as a failed one; the error is logged, and named (not its stack) to the operator. */
async function redeployOnce(ctx: ControlPlaneContext, org: Pick<OrgRow, 'id' | 'slug' | 'provider'>): Promise<TenantRedeployResult> {
  try {
    return await ctx.provisioner.redeploy(provisionRequestOf(org));
  } catch (err) {
    if (err instanceof DomainError && err.code === 'PROVISIONER_UNAVAILABLE') throw err;
    ctx.log.error({ err, org: org.slug }, 'tenant redeploy failed');
    return { ok: false, healthz_ok: false, pid: null, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Health-gated (reference §2.4): a restart whose tenant does not answer /health is a failure. */
const succeeded = (r: TenantRedeployResult) => r.ok && r.healthz_ok;

export interface RotationResult {
  slug: string;
  admin_token: string;
  rotated_at: string;
  tenant_restarted: boolean;
}

/**
 * Rotates an org's tenant admin token: mint (the old token stops matching at the CP at once), then restart the tenant
 * so it runs with the new one (the old stops working there too).
 *
 * Order and failure, thought through: the tenant reads its token from the CP's store when it starts, so the new token
 * must be stored before the restart — minting after would restart it with the old one. Nothing is changed when no
 * provisioner runs tenants (503 first). If the restart fails after the mint, the new token stays: rolling back is not
 * possible (the old token's plaintext is gone by design — only its hash was compared) and not wanted (the operator
 * rotated because the old one is suspect). The answer is then 502 TENANT_RESTART_FAILED saying the new token is
 * stored and the tenant still runs the old one (or not at all) until POST /admin/tenants/:slug/redeploy succeeds;
 * meanwhile the tenant's callbacks to the CP with the old token are refused. GET …/admin-token reveals the new one.
 */
export async function rotateAdminToken(ctx: ControlPlaneContext, slug: string): Promise<RotationResult> {
  const org = await requireOrg(ctx, slug);
  requireRunningProvisioner(ctx);
  const instance = await findInstance(ctx.db, org.id);
  if (!instance?.admin_token_hash) throw new DomainError('ADMIN_TOKEN_NOT_FOUND', `org "${slug}" has no tenant admin token yet: nothing to rotate`);
  if (instance.status === 'provisioning') {
    // The provisioner may already have handed the current token to a tenant that is starting: rotate once it runs.
    throw new DomainError('TENANT_NOT_READY', `org "${slug}" is still provisioning; rotate its token once it is running`, { instance_status: instance.status, retryable: true });
  }
  const token = await ctx.adminTokens.mint(org.id);
  const rotatedAt = new Date().toISOString();
  const result = await redeployOnce(ctx, org);
  if (!succeeded(result)) {
    throw new DomainError(
      'TENANT_RESTART_FAILED',
      `the new admin token of org "${slug}" is stored (GET /admin/orgs/${slug}/admin-token reveals it; the old one no longer works at the control plane), ` +
        `but the tenant could not be restarted with it: retry POST /admin/tenants/${slug}/redeploy`,
      { token_rotated: true, rotated_at: rotatedAt, tenant_restarted: false, healthz_ok: result.healthz_ok, retryable: true },
    );
  }
  return { slug: org.slug, admin_token: token, rotated_at: rotatedAt, tenant_restarted: true };
}

export async function redeployTenant(ctx: ControlPlaneContext, slug: string, dryRun: boolean) {
  const org = await requireOrg(ctx, slug);
  if (dryRun) return { slug: org.slug, dry_run: true as const, would: 'restart' as const };
  requireRunningProvisioner(ctx);
  const r = await redeployOnce(ctx, org);
  return { slug: org.slug, ok: r.ok, healthz_ok: r.healthz_ok, pid: r.pid, ...(r.error ? { error: r.error } : {}) };
}

/** Slugs the fleet rollout never touches: CI's throwaway orgs (reference: "ephemeral slugs are skipped"). */
export const EPHEMERAL_SLUG_PREFIXES = ['e2e-', 'rt-e2e-'] as const;
export const isEphemeralSlug = (slug: string) => EPHEMERAL_SLUG_PREFIXES.some((p) => slug.startsWith(p));

const row = (slug: string, phase: string, status: FleetTenantResult['status'], healthz: boolean | null, error?: string): FleetTenantResult => ({
  slug,
  phase,
  status,
  ssm_status: status,
  healthz_ok: healthz,
  ...(error ? { error } : {}),
});

/**
 * The fleet rollout (reference §2.4, "synchronous, canary-first, batched, health-gated"): candidates are the orgs
 * whose tenant is running, minus ephemeral slugs, narrowed by `only_slugs`. The canary goes first, alone; a failed
 * canary stops everything (the rest: `skipped`). Then batches of `batch_size` in parallel; a batch with more failures
 * than `max_stragglers` halts the rollout. `ok` is false when any tenant failed or was skipped by a halt.
 */
export async function redeployFleet(ctx: ControlPlaneContext, body: FleetRedeployRequest): Promise<FleetRedeployResponse> {
  if (body.dry_run) return rollout(ctx, body, true);
  requireRunningProvisioner(ctx);
  // One wet rollout at a time on a control plane: two would restart the same tenants twice, and their halting rules
  // would each see only half of the failures.
  if (rolloutsRunning.has(ctx)) throw new DomainError('CONFLICT', 'a fleet redeploy is already running on this control plane; wait for its answer', { retryable: true });
  rolloutsRunning.add(ctx);
  try {
    return await rollout(ctx, body, false);
  } finally {
    rolloutsRunning.delete(ctx);
  }
}

const rolloutsRunning = new WeakSet<ControlPlaneContext>();

async function rollout(ctx: ControlPlaneContext, body: FleetRedeployRequest, dryRun: boolean): Promise<FleetRedeployResponse> {
  const batchSize = body.batch_size ?? 3;
  const maxStragglers = body.max_stragglers ?? 1;
  const canarySlug = body.canary_slug || null;

  const running = await ctx.db
    .selectFrom('organizations as o')
    .innerJoin('org_instances as i', 'i.org_id', 'o.id')
    .select(['o.id', 'o.slug', 'o.provider'])
    .where('i.status', '=', 'running')
    .orderBy('o.created_at', 'asc')
    .orderBy('o.id', 'asc')
    .execute();
  const only = body.only_slugs ? new Set(body.only_slugs) : null;
  const candidates = running.filter((o) => !isEphemeralSlug(o.slug) && (!only || only.has(o.slug)));
  const results: FleetTenantResult[] = [];
  // Named in only_slugs but not a running, non-ephemeral tenant: said so, not silently dropped.
  if (only) {
    const found = new Set(candidates.map((c) => c.slug));
    for (const slug of body.only_slugs ?? []) {
      if (!found.has(slug)) results.push(row(slug, 'skipped', 'Skipped', null, isEphemeralSlug(slug) ? 'ephemeral slug: never redeployed' : 'no running tenant with this slug'));
    }
  }
  const canary = canarySlug ? candidates.find((c) => c.slug === canarySlug) : undefined;
  if (canarySlug && !canary) {
    throw new ValidationError(`canary_slug: "${canarySlug}" is not a running tenant among the candidates`, { fields: ['canary_slug'] });
  }
  const rest = candidates.filter((c) => c !== canary);
  const batches: (typeof rest)[] = [];
  for (let i = 0; i < rest.length; i += batchSize) batches.push(rest.slice(i, i + batchSize));

  if (dryRun) {
    if (canary) results.push(row(canary.slug, 'canary', 'DryRun', null));
    batches.forEach((b, i) => b.forEach((o) => results.push(row(o.slug, `batch-${i + 1}`, 'DryRun', null))));
    return { ok: true, dry_run: true, target_tag: body.target_tag ?? null, results };
  }

  const skipRest = (from: number, reason: string) => {
    for (const b of batches.slice(from)) for (const o of b) results.push(row(o.slug, 'skipped', 'Skipped', null, reason));
  };
  let halted = false;
  if (canary) {
    const r = await redeployOnce(ctx, canary);
    results.push(row(canary.slug, 'canary', succeeded(r) ? 'Success' : 'Failed', r.healthz_ok, succeeded(r) ? undefined : (r.error ?? 'the tenant did not answer /health after the restart')));
    if (!succeeded(r)) {
      skipRest(0, `canary ${canary.slug} failed: rollout stopped`);
      halted = true;
    } else if (body.soak_seconds) {
      await sleep(body.soak_seconds * 1000);
    }
  }
  for (let i = 0; !halted && i < batches.length; i++) {
    const outcomes = await Promise.all(batches[i]!.map(async (o) => ({ o, r: await redeployOnce(ctx, o) })));
    let failures = 0;
    for (const { o, r } of outcomes) {
      if (!succeeded(r)) failures += 1;
      results.push(row(o.slug, `batch-${i + 1}`, succeeded(r) ? 'Success' : 'Failed', r.healthz_ok, succeeded(r) ? undefined : (r.error ?? 'the tenant did not answer /health after the restart')));
    }
    if (failures > maxStragglers) {
      skipRest(i + 1, `batch-${i + 1} had ${failures} failure(s), more than max_stragglers (${maxStragglers}): rollout halted`);
      halted = true;
    }
  }
  // A halt always follows a failure; slugs of only_slugs that are not running tenants are reported, not failures.
  const ok = !halted && results.every((r) => r.status !== 'Failed');
  return { ok, dry_run: false, target_tag: body.target_tag ?? null, results };
}

/** Names that look like credentials (reference §2.4: TOKEN / SECRET / KEY / PASSWORD, substring, any case). */
const SECRET_LOOKING = /TOKEN|SECRET|KEY|PASSWORD/i;
/** Never settable on an ordinary workspace, even with force (reference [T contract]), besides the reserved names. */
const PRIVILEGED_ENV = new Set(['ADMIN_TOKEN', 'MOLECULE_ADMIN_TOKEN']);

/** The body's checks that need no tenant: platform-owned names always 400, credential-looking names unless forced. */
export function checkEnvKeys(body: WorkspaceEnvRequest): string[] {
  const keys = Object.keys(body.env).sort();
  const forbidden = keys.filter((k) => PRIVILEGED_ENV.has(k) || isReservedEnvName(k));
  if (forbidden.length > 0) {
    throw new ValidationError(`env: ${forbidden.join(', ')} ${forbidden.length === 1 ? 'is' : 'are'} owned by the platform and cannot be set on a workspace (not even with force)`, {
      fields: ['env'],
      keys: forbidden,
    });
  }
  const secretLooking = keys.filter((k) => SECRET_LOOKING.test(k));
  if (secretLooking.length > 0 && !body.force) {
    throw new ValidationError(
      `env: ${secretLooking.join(', ')} look${secretLooking.length === 1 ? 's' : ''} like a credential (TOKEN, SECRET, KEY or PASSWORD); keep real secrets in the tenant's secret store, or send force: true`,
      { fields: ['env'], keys: secretLooking },
    );
  }
  return keys;
}

interface SecretItem {
  key: string;
  scope: string;
}

const secretItems = (body: unknown): SecretItem[] =>
  Array.isArray(body) ? body.filter((x): x is SecretItem => typeof x === 'object' && x !== null && typeof (x as SecretItem).key === 'string') : [];

/**
 * Sets a workspace's environment through its tenant (reference §4.8): each key becomes a workspace secret (the
 * tenant's env for the workspace process); `merge: false` removes the workspace's other secrets; then the workspace
 * is restarted so its process gets the new environment. The workspace is looked up first: unknown → 404, nothing set.
 */
export async function applyWorkspaceEnv(client: TenantClient, workspaceId: string, body: WorkspaceEnvRequest, keys: string[]) {
  const ws = `/workspaces/${encodeURIComponent(workspaceId)}`;
  const found = await client.call('GET', ws);
  if (found.status === 404) throw new DomainError('WORKSPACE_NOT_FOUND', `workspace ${workspaceId} not found in org "${client.org.slug}"`);
  if (found.status !== 200) throw client.failure(`GET ${ws}`, found);

  for (const key of keys) await client.expectOk('PUT', `${ws}/secrets`, { key, value: body.env[key] });
  const removed: string[] = [];
  if (body.merge === false) {
    const own = secretItems(await client.expectOk('GET', `${ws}/secrets`)).filter((s) => s.scope === 'workspace' && !(s.key in body.env));
    for (const s of own) {
      const res = await client.call('DELETE', `${ws}/secrets/${encodeURIComponent(s.key)}`);
      // Gone meanwhile is what was wanted.
      if (res.status !== 404 && (res.status < 200 || res.status >= 300)) throw client.failure(`DELETE ${ws}/secrets/${s.key}`, res);
      removed.push(s.key);
    }
  }
  const restart = await client.call('POST', `${ws}/restart`);
  let restarted: boolean;
  if (restart.status === 200) restarted = (restart.body as { status?: string } | undefined)?.status === 'provisioning';
  // A tenant that runs no workspaces (WORKSPACE_PROVISIONER=none): the secrets are set; there is no process to restart.
  else if (restart.status === 503) restarted = false;
  else throw client.failure(`POST ${ws}/restart`, restart);
  const after = secretItems(await client.expectOk('GET', `${ws}/secrets`)).map((s) => s.key);
  return { ok: true as const, workspace_id: workspaceId, applied_keys: keys, removed_keys: removed.sort(), env_keys_after: [...new Set(after)].sort(), container_restarted: restarted };
}
