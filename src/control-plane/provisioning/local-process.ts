import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { freePort, portIsFree } from '../../core/net.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { DetachedProcess, environOf, isSameProcess, stopByIdentity } from '../../core/compute/detached-process.js';
import type { ProcessExit } from '../../core/compute/managed-process.js';
import type { SecretCipher } from '../../core/crypto/cipher.js';
import { dropTenantDatabase, ensureTenantDatabase, tenantDatabaseName, tenantDatabases } from '../../core/db/tenant-databases.js';
import type { ControlPlaneSchema } from '../db/schema.js';
import type { TenantAdminTokens } from './admin-tokens.js';
import type { TenantBootEvent, TenantDiagnostics, TenantProvisioner, TenantProvisionRequest, TenantRedeployResult } from './provisioner.js';
import { sealed, unsealed } from './sealed.js';

/**
 * `TENANT_PROVISIONER=local-process` (issue 9): one tenant server process per org on this machine, each with its own
 * database and login role on one PostgreSQL server (the embedded one under `npm start`, or TENANT_DATABASE_URL).
 *
 * Provisioning, in the order the org's `provision-status` reports it:
 *   launching (10)  — a port, a database password, the tenant's own secrets key, its agent uid range;
 *   installing (35) — its role and database on the server;
 *   starting (60)   — the admin token is minted and stored (encrypted) BEFORE the process exists, then the process
 *                     is spawned; it migrates its database and calls back (`booting`, `listening`);
 *   configuring_https (85) — it said it is listening: the CP checks /health;
 *   ready (100)     — the org and its instance are `running`, and the edge routes to it.
 * A failure marks the org `failed` with `last_error` (retry: POST /api/v1/admin/orgs/:slug/reprovision).
 *
 * Tenants are detached processes: a CP killed with -9 leaves them serving, and the next CP adopts them (same pid,
 * same identity, answering /health) or starts them again. A tenant that exits unexpectedly is restarted with
 * exponential backoff; the edge answers 503 + Retry-After meanwhile.
 */

export interface LocalProcessOptions {
  db: Kysely<ControlPlaneSchema>;
  cipher: SecretCipher;
  adminTokens: TenantAdminTokens;
  log: Logger;
  /** The CP's MOLECULE_DATA_DIR: tenants live under `<dir>/tenants/<org id>`. */
  dataDir: string;
  /** A superuser connection to the server the tenants' databases are created on. */
  serverAdminUrl: string;
  /** Where tenants reach the CP (their CP_UPSTREAM_URL); known once the CP listens. */
  controlPlaneUrl: () => string;
  tenantHost: string;
  readyTimeoutMs: number;
  shutdown: 'stop' | 'keep';
  agentUidBase: number;
  agentUidCount: number;
  /** Passed on to every tenant. */
  tenantEnv: { MOLECULE_ENV: string; LOG_LEVEL: string; TENANT_DOMAIN: string };
  /** Extra environment for every tenant (operator tunables and tests: AGENT_ISOLATION, HEARTBEAT_TTL_SECONDS, …). */
  extraTenantEnv?: Record<string, string>;
}

const TENANT_BIN = fileURLToPath(new URL('../../bin/molecule-platform.js', import.meta.url));
/** Only these variables of the CP's own environment reach a tenant (the operator's, never a secret). */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'];
/** The environment variable that tells one tenant process from any other (pid reuse, adoption). */
const IDENTITY_VAR = 'MOLECULE_TENANT_PROCESS';
const HEALTH_TIMEOUT_MS = 2000;
const RESTART_BACKOFF_MS = [500, 1000, 2000, 5000, 10_000, 30_000];
/** A tenant that stayed up this long has its restart backoff reset. */
const STABLE_AFTER_MS = 60_000;
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
const MAX_INT4 = 2_147_483_647;

type Stage = 'launching' | 'installing' | 'starting' | 'configuring_https';

interface Tenant {
  orgId: string;
  slug: string;
  proc: DetachedProcess;
  /** What the org should be: running (restart on exit) or stopped (being stopped, redeployed or removed). */
  desired: 'running' | 'stopped';
  /** Resolves when the tenant said `listening` for the current start. */
  listening: Deferred<void>;
  restartTimer: NodeJS.Timeout | null;
  crashes: number;
  /** True while bringUp waits on this start: it handles the process's exit itself. */
  starting: boolean;
  /** One operation at a time per tenant (provision, restart, redeploy, deprovision). */
  queue: Promise<unknown>;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  settled: boolean;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const d: Deferred<T> = {
    promise: new Promise<T>((r) => {
      resolve = r;
    }),
    resolve: (v: T) => {
      d.settled = true;
      resolve(v);
    },
    settled: false,
  };
  return d;
}

class ProvisioningFailed extends Error {}

export class LocalProcessTenantProvisioner implements TenantProvisioner {
  readonly name = 'local-process';
  private readonly tenants = new Map<string, Tenant>();
  private closed = false;

  constructor(private readonly o: LocalProcessOptions) {}

  private tenantDir(orgId: string): string {
    return path.join(this.o.dataDir, 'tenants', orgId);
  }

  private tenant(orgId: string, slug: string): Tenant {
    let t = this.tenants.get(orgId);
    if (!t) {
      const dir = this.tenantDir(orgId);
      const proc = new DetachedProcess({ command: process.execPath, args: [TENANT_BIN, 'tenant'], env: {}, logFile: path.join(dir, 'tenant.log'), identity: `${IDENTITY_VAR}=${orgId}` });
      t = { orgId, slug, proc, desired: 'stopped', listening: deferred(), restartTimer: null, crashes: 0, starting: false, queue: Promise.resolve() };
      const tenant = t;
      proc.on('exit', (exit) => this.onExit(tenant, exit));
      this.tenants.set(orgId, t);
    }
    return t;
  }

  /** Runs `fn` after whatever the tenant is already doing; failures do not poison the queue. */
  private serialized<T>(t: Tenant, fn: () => Promise<T>): Promise<T> {
    const run = t.queue.then(fn, fn);
    t.queue = run.catch(() => undefined);
    return run;
  }

  // -------------------------------------------------------------------------------------------------------------
  // The seam
  // -------------------------------------------------------------------------------------------------------------

  async start(): Promise<void> {
    const rows = await this.o.db
      .selectFrom('org_instances as i')
      .innerJoin('organizations as o', 'o.id', 'i.org_id')
      .select(['o.id as orgId', 'o.slug as slug', 'i.pid as pid', 'i.started_at as startedAt', 'i.status as status', 'i.url as url'])
      .where('i.status', 'in', ['provisioning', 'running'])
      .where('o.status', 'in', ['provisioning', 'running'])
      .execute();
    await Promise.all(
      rows.map(async (row) => {
        const t = this.tenant(row.orgId, row.slug);
        t.desired = 'running';
        if (row.pid && row.url && t.proc.adopt(row.pid, row.startedAt ? new Date(row.startedAt) : null)) {
          // A tenant that calls back to another address (the CP moved port) would lose its session checks and
          // callbacks: restart it instead of adopting it.
          const callsUs = environOf(row.pid).includes(`CP_UPSTREAM_URL=${this.o.controlPlaneUrl()}`);
          if (callsUs && (await healthy(row.url))) {
            this.o.log.info({ org: row.slug, pid: row.pid }, 'adopted a running tenant');
            await this.markRunning(t, row.url);
            return;
          }
          this.o.log.warn({ org: row.slug, pid: row.pid }, callsUs ? 'a tenant left running does not answer /health; restarting it' : 'a tenant left running calls back to another control plane address; restarting it');
          await this.stopProcess(t);
        }
        void this.serialized(t, () => this.bringUp(t)).catch(() => undefined);
      }),
    );
  }

  async provision(request: TenantProvisionRequest): Promise<void> {
    if (this.closed) throw new Error('the tenant provisioner is shutting down');
    const t = this.tenant(request.orgId, request.slug);
    t.desired = 'running';
    t.crashes = 0;
    // In the background: the caller (org create, payment, reprovision) answers at once; provision-status follows.
    void this.serialized(t, () => this.bringUp(t)).catch(() => undefined);
  }

  async onBootEvent(orgId: string, event: TenantBootEvent): Promise<void> {
    const t = this.tenants.get(orgId);
    if (!t) return;
    if (event.stage === 'booting') await this.stage(t, 'starting', 70, 'the tenant is starting: migrating its database');
    if (event.stage === 'listening') t.listening.resolve();
  }

  async deprovision(request: TenantProvisionRequest): Promise<void> {
    const t = this.tenant(request.orgId, request.slug);
    t.desired = 'stopped';
    await this.serialized(t, async () => {
      const row = await this.o.db.selectFrom('org_instances').select(['pid', 'database_name']).where('org_id', '=', t.orgId).executeTakeFirst();
      if (row) {
        await this.o.db.updateTable('org_instances').set({ status: 'deprovisioning', message: 'stopping the tenant', updated_at: new Date() }).where('org_id', '=', t.orgId).execute();
      }
      this.cancelRestart(t);
      await this.stopProcess(t);
      // A process this CP never saw (started by an earlier one that did not hand it over): still ours to stop.
      if (row?.pid && isSameProcess(row.pid, `${IDENTITY_VAR}=${t.orgId}`)) await stopByIdentity(row.pid, `${IDENTITY_VAR}=${t.orgId}`);
      await dropTenantDatabase(this.o.serverAdminUrl, row?.database_name ?? tenantDatabaseName(t.slug, t.orgId));
      rmSync(this.tenantDir(t.orgId), { recursive: true, force: true });
      if (row) {
        await this.o.db
          .updateTable('org_instances')
          .set({ status: 'deprovisioned', message: 'deprovisioned', pid: null, url: null, updated_at: new Date() })
          .where('org_id', '=', t.orgId)
          .execute();
      }
    });
    t.proc.release();
    this.tenants.delete(t.orgId);
  }

  async diagnostics(request: TenantProvisionRequest): Promise<TenantDiagnostics | null> {
    const row = await this.o.db
      .selectFrom('org_instances')
      .select(['pid', 'url', 'restarts', 'database_name', 'started_at'])
      .where('org_id', '=', request.orgId)
      .executeTakeFirst();
    if (!row) return null;
    const t = this.tenants.get(request.orgId);
    const info = t?.proc.info();
    const migration = await this.o.db
      .selectFrom('org_instance_boot_events')
      .select('detail')
      .where('org_id', '=', request.orgId)
      .where('detail', 'like', 'migration %')
      .orderBy('id', 'desc')
      .executeTakeFirst();
    return {
      backend: this.name,
      running: info?.running ?? false,
      pid: info?.pid ?? null,
      url: row.url,
      uptime_seconds: info?.uptimeSeconds ?? 0,
      rss_bytes: info?.rssBytes ?? null,
      restarts: row.restarts,
      last_exit: info?.lastExit ? { code: info.lastExit.code, signal: info.lastExit.signal, at: info.lastExit.at.toISOString() } : null,
      database: row.database_name,
      migration_version: migration?.detail?.slice('migration '.length) ?? null,
      recent_log_lines: t?.proc.logs(50) ?? [],
    };
  }

  async redeploy(request: TenantProvisionRequest): Promise<TenantRedeployResult> {
    const t = this.tenant(request.orgId, request.slug);
    return this.serialized(t, async () => {
      t.desired = 'stopped';
      this.cancelRestart(t);
      await this.stopProcess(t);
      t.desired = 'running';
      t.crashes = 0;
      try {
        await this.bringUp(t);
        return { ok: true, healthz_ok: true, pid: t.proc.pid };
      } catch (err) {
        return { ok: false, healthz_ok: false, pid: t.proc.pid, error: err instanceof Error ? err.message : String(err) };
      }
    });
  }

  /**
   * What a tenant of a deleted org may have left under `slug` (the caller has checked no live org holds it): tenant
   * processes that still run with MOLECULE_ORG_SLUG=<slug>, databases and roles named `tenant_<slug>_<8 hex>`, and the
   * data directories of those org ids — none of which belongs to a live org.
   */
  async scrubArtifacts(slug: string): Promise<{ removed: string[] }> {
    const removed: string[] = [];
    const live = new Set((await this.o.db.selectFrom('organizations').select('id').execute()).map((r) => r.id));
    // Supervised tenants of orgs that no longer exist: stop supervising first, so a stopped one is not restarted.
    for (const t of [...this.tenants.values()]) {
      if (live.has(t.orgId) || t.slug !== slug) continue;
      t.desired = 'stopped';
      this.cancelRestart(t);
      await this.stopProcess(t);
      t.proc.release();
      this.tenants.delete(t.orgId);
      removed.push(`supervised tenant of org ${t.orgId}`);
    }
    for (const { pid, orgId } of tenantProcesses()) {
      if (live.has(orgId) || !environOf(pid).includes(`MOLECULE_ORG_SLUG=${slug}`)) continue;
      await stopByIdentity(pid, `${IDENTITY_VAR}=${orgId}`);
      removed.push(`process ${pid} (org ${orgId})`);
    }
    const pattern = new RegExp(`^tenant_${slug.replace(/-/g, '_')}_([0-9a-f]{8})$`);
    const liveSuffixes = new Set([...live].map((id) => id.replace(/-/g, '').slice(0, 8)));
    for (const name of await tenantDatabases(this.o.serverAdminUrl)) {
      const m = pattern.exec(name);
      if (!m || liveSuffixes.has(m[1]!)) continue;
      await dropTenantDatabase(this.o.serverAdminUrl, name);
      removed.push(`database ${name}`);
      const root = path.join(this.o.dataDir, 'tenants');
      for (const dir of existsSync(root) ? readdirSync(root) : []) {
        if (dir.replace(/-/g, '').startsWith(m[1]!) && !live.has(dir)) {
          rmSync(path.join(root, dir), { recursive: true, force: true });
          removed.push(`directory tenants/${dir}`);
        }
      }
    }
    return { removed };
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.tenants.values()];
    for (const t of all) this.cancelRestart(t);
    if (this.o.shutdown === 'keep') {
      for (const t of all) t.proc.release();
      return;
    }
    await Promise.all(
      all.map(async (t) => {
        const wasRunning = t.proc.running;
        t.desired = 'stopped';
        await this.stopProcess(t);
        if (!wasRunning) return;
        // Stopped with the CP, not failed: the next CP start brings it back (start() picks up `provisioning` rows).
        await this.o.db
          .updateTable('org_instances')
          .set({ status: 'provisioning', stage: 'starting', progress: 60, eta_seconds: 5, message: 'stopped with the control plane; it starts again with it', pid: null, updated_at: new Date() })
          .where('org_id', '=', t.orgId)
          .where('status', '=', 'running')
          .execute()
          .catch((err: unknown) => this.o.log.warn({ err, org: t.slug }, 'could not record that the tenant was stopped'));
      }),
    );
  }

  // -------------------------------------------------------------------------------------------------------------
  // Bringing a tenant up
  // -------------------------------------------------------------------------------------------------------------

  /**
   * Brings the tenant up. A first provisioning (or a reprovision, a redeploy) that fails marks the org `failed`; a
   * restart after a crash (`afterCrash`) that fails is tried again with backoff, and only marks the org failed once
   * the backoff is exhausted.
   */
  private async bringUp(t: Tenant, afterCrash = false): Promise<void> {
    if (t.desired !== 'running' || this.closed) return;
    t.starting = true;
    try {
      const current = await this.o.db.selectFrom('org_instances').select('url').where('org_id', '=', t.orgId).executeTakeFirst();
      if (t.proc.running && current?.url && (await healthy(current.url))) {
        // Already up (a repeated provision call): nothing to start.
        await this.markRunning(t, current.url);
        t.starting = false;
        return;
      }
      await this.stage(t, 'launching', 10, 'preparing the tenant: port, credentials, database role');
      const env = await this.prepare(t);
      if (t.desired !== 'running' || this.closed) return;
      await this.stage(t, 'starting', 60, 'starting the tenant process');
      t.listening = deferred();
      rotateLog(path.join(this.tenantDir(t.orgId), 'tenant.log'));
      t.proc.start({ command: process.execPath, args: [TENANT_BIN, 'tenant'], env, logFile: path.join(this.tenantDir(t.orgId), 'tenant.log'), identity: `${IDENTITY_VAR}=${t.orgId}` });
      const pid = t.proc.pid;
      if (pid === null) throw new ProvisioningFailed(`the tenant process could not be started: ${t.proc.lastExitNote ?? 'spawn failed'}`);
      await this.o.db.updateTable('org_instances').set({ pid, started_at: new Date(), updated_at: new Date() }).where('org_id', '=', t.orgId).execute();
      const url = `http://${urlHost(this.o.tenantHost)}:${env['PORT']}`;
      await this.waitListening(t);
      await this.stage(t, 'configuring_https', 85, `the tenant listens at ${url}; checking its health`);
      await this.waitHealthy(t, url);
      await this.markRunning(t, url);
      this.o.log.info({ org: t.slug, pid, url }, 'tenant running');
      t.starting = false;
    } catch (err) {
      t.starting = false;
      if (t.desired !== 'running' || this.closed) return;
      const message = err instanceof Error ? err.message : String(err);
      const tail = t.proc.logs(5).join('\n');
      await this.stopProcess(t);
      if (afterCrash && t.crashes < RESTART_BACKOFF_MS.length) {
        this.scheduleRestart(t, message);
        return;
      }
      await this.markFailed(t, tail ? `${message}\n${tail}` : message);
      throw err;
    }
  }

  /** Everything the tenant needs before its process exists; idempotent (a retry reuses it). */
  private async prepare(t: Tenant): Promise<Record<string, string>> {
    const row = await this.o.db.selectFrom('org_instances').selectAll().where('org_id', '=', t.orgId).executeTakeFirst();
    if (!row) throw new ProvisioningFailed('the org has no instance row');
    const aad = (field: string) => `org-instance:${t.orgId}:${field}`;
    const updates: Record<string, unknown> = {};
    let port = row.port;
    if (port === null || !(await portIsFree(port, this.o.tenantHost))) port = updates['port'] = await freePort(this.o.tenantHost);
    let password = row.database_password_sealed ? unsealed(this.o.cipher, row.database_password_sealed, aad('database-password')) : null;
    if (!password) {
      password = randomBytes(24).toString('base64url');
      updates['database_password_sealed'] = sealed(this.o.cipher, password, aad('database-password'));
    }
    let secretsKey = row.secrets_key_sealed ? unsealed(this.o.cipher, row.secrets_key_sealed, aad('secrets-key')) : null;
    if (!secretsKey) {
      secretsKey = randomBytes(32).toString('base64');
      updates['secrets_key_sealed'] = sealed(this.o.cipher, secretsKey, aad('secrets-key'));
    }
    let uidBase = row.agent_uid_base;
    if (uidBase === null) {
      const slot = await nextSlot(this.o.db);
      uidBase = this.o.agentUidBase + (slot - 1) * this.o.agentUidCount;
      if (uidBase + this.o.agentUidCount > MAX_INT4) throw new ProvisioningFailed('no agent uid range left for a new tenant (TENANT_AGENT_UID_BASE/COUNT)');
      updates['agent_uid_base'] = uidBase;
    }
    const databaseName = row.database_name ?? tenantDatabaseName(t.slug, t.orgId);
    updates['database_name'] = databaseName;
    // Persisted before anything uses them: a CP that dies here finds the same port, password and key next time.
    await this.o.db.updateTable('org_instances').set({ ...updates, updated_at: new Date() }).where('org_id', '=', t.orgId).execute();
    await this.stage(t, 'installing', 35, `creating the tenant's database ${databaseName}`);
    const databaseUrl = await ensureTenantDatabase(this.o.serverAdminUrl, databaseName, password);
    // The admin token exists before the tenant does (reference §3.4 invariant): its first callback is recognised.
    const adminToken = (await this.o.adminTokens.reveal(t.orgId)) ?? (await this.o.adminTokens.mint(t.orgId));
    const env: Record<string, string> = {};
    for (const k of INHERITED_ENV) if (process.env[k] !== undefined) env[k] = process.env[k]!;
    Object.assign(env, this.o.extraTenantEnv ?? {}, {
      PORT: String(port),
      HOST: this.o.tenantHost,
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: '4',
      MOLECULE_DATA_DIR: this.tenantDir(t.orgId),
      ADMIN_TOKEN: adminToken,
      MOLECULE_ORG_ID: t.orgId,
      MOLECULE_ORG_SLUG: t.slug,
      CP_UPSTREAM_URL: this.o.controlPlaneUrl(),
      TENANT_DOMAIN: this.o.tenantEnv.TENANT_DOMAIN,
      SECRETS_ENCRYPTION_KEY: secretsKey,
      // The edge is on loopback: its X-Forwarded-For names the client.
      TRUST_PROXY: '127.0.0.1/32,::1/128',
      AGENT_UID_BASE: String(uidBase),
      AGENT_UID_COUNT: String(this.o.agentUidCount),
      MOLECULE_ENV: this.o.tenantEnv.MOLECULE_ENV,
      LOG_LEVEL: this.o.tenantEnv.LOG_LEVEL,
      [IDENTITY_VAR]: t.orgId,
    });
    return env;
  }

  private async waitListening(t: Tenant): Promise<void> {
    const deadline = Date.now() + this.o.readyTimeoutMs;
    const exited = new Promise<never>((_, reject) => {
      const onExit = (exit: ProcessExit) => reject(new ProvisioningFailed(`the tenant process exited while starting (${describeExit(exit)})`));
      t.proc.once('exit', onExit);
      void t.listening.promise.then(() => t.proc.off('exit', onExit));
    });
    exited.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ProvisioningFailed(`the tenant did not call back within ${Math.round(this.o.readyTimeoutMs / 1000)} s`)), Math.max(0, deadline - Date.now()));
    });
    timeout.catch(() => undefined);
    try {
      await Promise.race([t.listening.promise, exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async waitHealthy(t: Tenant, url: string): Promise<void> {
    const deadline = Date.now() + this.o.readyTimeoutMs;
    let delay = 50;
    for (;;) {
      if (!t.proc.running) throw new ProvisioningFailed('the tenant process exited before answering /health');
      if (await healthy(url)) return;
      if (Date.now() > deadline) throw new ProvisioningFailed(`the tenant did not answer ${url}/health within ${Math.round(this.o.readyTimeoutMs / 1000)} s`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1000);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Crashes and stops
  // -------------------------------------------------------------------------------------------------------------

  private onExit(t: Tenant, exit: ProcessExit) {
    // Asked for (stop, redeploy, deprovision), or a start in progress, which handles its own failure.
    if (exit.expected || t.desired !== 'running' || this.closed || t.starting) return;
    const info = t.proc.info();
    const upFor = info.startedAt ? Date.now() - info.startedAt.getTime() : 0;
    if (upFor > STABLE_AFTER_MS) t.crashes = 0;
    this.o.log.error({ org: t.slug, code: exit.code, signal: exit.signal }, 'tenant exited unexpectedly; restarting it');
    this.scheduleRestart(t, `an unexpected exit (${describeExit(exit)})`);
  }

  /** Restarts the tenant after the next backoff delay; the instance says so (the edge answers 503 + Retry-After). */
  private scheduleRestart(t: Tenant, why: string) {
    const delay = RESTART_BACKOFF_MS[Math.min(t.crashes, RESTART_BACKOFF_MS.length - 1)]!;
    t.crashes += 1;
    void this.o.db
      .updateTable('org_instances')
      .set((eb) => ({
        status: 'provisioning',
        stage: 'starting',
        progress: 60,
        eta_seconds: Math.ceil(delay / 1000) + 2,
        message: `restarting after ${why}, attempt ${t.crashes}`,
        pid: null,
        restarts: eb('restarts', '+', 1),
        updated_at: new Date(),
      }))
      .where('org_id', '=', t.orgId)
      .where('status', 'in', ['running', 'provisioning'])
      .execute()
      .catch((err: unknown) => this.o.log.warn({ err, org: t.slug }, 'could not record the tenant exit'));
    this.cancelRestart(t);
    t.restartTimer = setTimeout(() => {
      t.restartTimer = null;
      void this.serialized(t, () => this.bringUp(t, true)).catch(() => undefined);
    }, delay);
    t.restartTimer.unref();
  }

  private cancelRestart(t: Tenant) {
    if (t.restartTimer) clearTimeout(t.restartTimer);
    t.restartTimer = null;
  }

  /** Stops the process (an exit asked for: never restarted). */
  private async stopProcess(t: Tenant): Promise<void> {
    await t.proc.stop();
  }

  // -------------------------------------------------------------------------------------------------------------
  // The instance row
  // -------------------------------------------------------------------------------------------------------------

  private async stage(t: Tenant, stage: Stage, progress: number, message: string): Promise<void> {
    const eta = { launching: 20, installing: 15, starting: 8, configuring_https: 2 }[stage];
    // Progress only moves forward within a provisioning run; eta never increases (reference §8).
    await this.o.db
      .updateTable('org_instances')
      .set((eb) => ({
        status: 'provisioning',
        stage,
        progress: eb.fn('greatest', [eb.ref('progress'), eb.val(progress)]),
        eta_seconds: eb.fn('least', [eb.ref('eta_seconds'), eb.val(eta)]),
        message,
        last_error: null,
        updated_at: new Date(),
      }))
      .where('org_id', '=', t.orgId)
      .where('status', '<>', 'deprovisioning')
      .execute();
  }

  private async markRunning(t: Tenant, url: string): Promise<void> {
    await this.o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('org_instances')
        .set({ status: 'running', stage: 'ready', progress: 100, eta_seconds: 0, message: 'ready', url, pid: t.proc.pid, last_error: null, updated_at: new Date() })
        .where('org_id', '=', t.orgId)
        .execute();
      await tx.updateTable('organizations').set({ status: 'running', last_error: null, updated_at: new Date() }).where('id', '=', t.orgId).where('status', 'in', ['provisioning', 'running']).execute();
    });
  }

  private async markFailed(t: Tenant, message: string): Promise<void> {
    const text = message.slice(0, 2000);
    this.o.log.error({ org: t.slug, error: text }, 'tenant provisioning failed');
    await this.o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('org_instances')
        .set({ status: 'failed', stage: 'failed', eta_seconds: 0, message: 'provisioning failed', last_error: text, pid: null, updated_at: new Date() })
        .where('org_id', '=', t.orgId)
        .execute();
      await tx.updateTable('organizations').set({ status: 'failed', last_error: text, updated_at: new Date() }).where('id', '=', t.orgId).execute();
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------

function describeExit(exit: ProcessExit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code ?? 'unknown'}`;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function nextSlot(db: Kysely<ControlPlaneSchema>): Promise<number> {
  const { sql } = await import('kysely');
  const row = await sql<{ slot: number | string }>`select nextval('tenant_slots') as slot`.execute(db);
  return Number(row.rows[0]!.slot);
}

/** Every live tenant process on this host (by its identity variable), whichever CP started it. */
function tenantProcesses(): Array<{ pid: number; orgId: string }> {
  const found: Array<{ pid: number; orgId: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const identity = environOf(Number(entry)).find((e) => e.startsWith(`${IDENTITY_VAR}=`));
    if (identity) found.push({ pid: Number(entry), orgId: identity.slice(IDENTITY_VAR.length + 1) });
  }
  return found;
}

function rotateLog(file: string) {
  try {
    if (existsSync(file) && statSync(file).size > LOG_ROTATE_BYTES) renameSync(file, `${file}.1`);
  } catch {
    // a log that cannot be rotated keeps growing; never a reason not to start
  }
}
