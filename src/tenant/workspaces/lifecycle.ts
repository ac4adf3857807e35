import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { scopeCovers } from '../../core/auth/principal.js';
import type { ProcessExit, ProcessInfo } from '../../core/compute/managed-process.js';
import type { SecretCipher } from '../../core/crypto/cipher.js';
import { mintCredential } from '../../core/credentials/format.js';
import { isDatastoreOutage, retryThroughOutages } from '../../core/db/outage.js';
import { DomainError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { LoopTicks } from '../../core/liveness.js';
import type { TenantConfig } from '../config.js';
import type { TenantSchema, WorkspaceStatus } from '../db/schema.js';
import type { EventBus, EventType } from '../events/bus.js';
import { resolveWorkspaceEnv } from '../secrets/store.js';
import type { SecretsChange, WorkspaceLifecycleApi } from './lifecycle-api.js';
import { workspaceOwnFiles } from '../bundles/store.js';
import { workspacePluginFiles } from '../plugins/store.js';
import { resolveWorkspaceAgent } from '../templates/service.js';
import type { WorkspaceProvisioner } from './provisioner.js';
import { getWorkspace, liveSubtreeIds } from './store.js';

/** Statuses in which a workspace is meant to have a running process. */
const ACTIVE: WorkspaceStatus[] = ['provisioning', 'online', 'offline', 'degraded'];
/** Statuses in which a workspace's process is stopped on purpose: no late process event or provision changes them. */
const STOPPED: WorkspaceStatus[] = ['removed', 'paused', 'hibernating', 'hibernated'];
/** Statuses that restart and resume wake (reference §3.4, §5.2). */
const WAKEABLE: WorkspaceStatus[] = ['paused', 'hibernated'];
/** Crash loop: this many unexpected exits within the window → failed. */
const CRASH_LIMIT = 5;
const CRASH_WINDOW_MS = 60_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 10_000;
/** Secret writes share one restart while they keep coming less than QUIET_MS apart (for at most MAX_WAIT_MS). */
const QUIET_MS = 200;
const MAX_WAIT_MS = 2000;

/** The workspaces the caller is confined to (the principal's `workspaceIds`); null for the unbound admin chain. */
export type WorkspaceScope = readonly string[] | null;

/**
 * A bound caller may act on — or be told about — a workspace's descendants only when it can see every one of them.
 * Otherwise the workspace answers as any workspace outside its scope does: 404, naming nothing (not the 409 that
 * lists the descendants, and not a partial cascade). Issue 7, item 4.
 */
function requireSubtreeInScope(scope: WorkspaceScope, descendantIds: readonly string[]) {
  if (!scopeCovers(scope, descendantIds)) throw new DomainError('WORKSPACE_NOT_FOUND');
}

export interface LifecycleDeps {
  db: Kysely<TenantSchema>;
  log: Logger;
  config: TenantConfig;
  events: EventBus;
  cipher: SecretCipher;
  provisioner: WorkspaceProvisioner | null;
  /** Where runtimes reach this tenant; null until the server listens. */
  platformUrl: () => string | null;
  /** Background-loop ticks (GET /admin/liveness). */
  ticks?: LoopTicks;
}

interface RestartState {
  running: Promise<void> | null;
  pending: boolean;
  lastRequest: number;
}

/**
 * The workspace lifecycle on real processes: provision, restart, pause, resume, remove; the truth about status
 * from registrations, heartbeats and process exits; restarts with backoff; coalesced restarts on secret changes.
 *
 * Background work (a provision after create, after an exit or a secret change; recording an exit; lifecycle
 * events) waits out a database outage with backoff and then completes: an acknowledged create or secret write
 * always reaches a process, and no rejection is left unhandled (which would end the tenant).
 */
export class WorkspaceLifecycle implements WorkspaceLifecycleApi {
  private readonly locks = new Map<string, Promise<void>>();
  private readonly restarts = new Map<string, RestartState>();
  private readonly crashes = new Map<string, number[]>();
  private readonly backoffTimers = new Map<string, NodeJS.Timeout>();
  private sweeper: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly sweepTicked: () => void;

  constructor(private readonly deps: LifecycleDeps) {
    this.sweepTicked = (deps.ticks ?? new LoopTicks()).register('lifecycle_sweeper');
    deps.provisioner?.onExit((id, exit) => void this.onProcessExit(id, exit).catch((err: unknown) => deps.log.error({ err, workspace_id: id }, 'runtime exit not handled')));
  }

  get hasProvisioner(): boolean {
    return this.deps.provisioner !== null;
  }

  processInfo(workspaceId: string): ProcessInfo | null {
    return this.deps.provisioner?.info(workspaceId) ?? null;
  }

  processLogs(workspaceId: string): string[] {
    return this.deps.provisioner?.logs(workspaceId) ?? [];
  }

  /** After listen: re-provision workspaces that were running when the tenant last stopped, start the sweeper. */
  async start(): Promise<void> {
    if (this.deps.provisioner) {
      const rows = await this.deps.db
        .selectFrom('workspaces')
        .select('id')
        .where('status', 'in', ACTIVE)
        .where('external', '=', false)
        .execute();
      for (const { id } of rows) this.provisionInBackground(id, 'tenant restarted');
    }
    const tick = Math.min(1000, this.deps.config.HEARTBEAT_TTL_SECONDS * 250);
    const ticked = this.sweepTicked;
    this.sweeper = setInterval(() => void this.sweep().then(ticked).catch((err: unknown) => this.deps.log.warn({ err }, 'lifecycle sweep failed')), tick);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const t of this.backoffTimers.values()) clearTimeout(t);
    await Promise.all([...this.locks.values()].map((p) => p.catch(() => undefined)));
    await this.deps.provisioner?.stopAll();
  }

  /** Provisions without a caller waiting: retried through database outages until it is done (or the tenant stops). */
  provisionInBackground(id: string, reason: string): void {
    void retryThroughOutages(() => this.provision(id, reason), {
      log: this.deps.log.child({ workspace_id: id }),
      what: `provision (${reason})`,
      stopped: () => this.closed,
    });
  }

  /** Serialises everything done to one workspace's process. */
  private exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(id, settled);
    void settled.then(() => {
      if (this.locks.get(id) === settled) this.locks.delete(id);
    });
    return run;
  }

  /** Records a lifecycle event; during a database outage, in the background once it is back (never throws). */
  private async emit(type: EventType, id: string, payload: Record<string, unknown> = {}) {
    await this.deps.events.recordAfterCommit(type, id, payload);
  }

  /**
   * Sets a status unless the workspace has since been removed or paused by someone else (a late process event
   * must not resurrect it). Returns whether the row changed.
   */
  private async setStatus(id: string, status: WorkspaceStatus, extra: { last_error?: string | null } = {}, from?: WorkspaceStatus[]): Promise<boolean> {
    let q = this.deps.db
      .updateTable('workspaces')
      .set({ status, updated_at: sql<Date>`now()`, ...extra })
      .where('id', '=', id)
      .where('status', 'not in', STOPPED);
    if (from) q = q.where('status', 'in', from);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Starts (or restarts) the workspace's runtime with a fresh environment and a fresh instance token. */
  provision(id: string, reason: string): Promise<void> {
    return this.exclusive(id, async () => {
      const { provisioner, db, config } = this.deps;
      if (!provisioner || this.closed) return;
      const ws = await getWorkspace(db, id);
      if (!ws || ws.external || STOPPED.includes(ws.status) || ws.status === 'failed') return;
      const platformUrl = this.deps.platformUrl();
      if (!platformUrl) return; // start() provisions everything once the server listens
      // Everything read from or written to the database comes before the running process is stopped: a database
      // outage then fails the provision (its caller retries or answers 503) and leaves the old process running.
      let secrets: Record<string, string>;
      let agent: { command?: string; files: Record<string, Buffer> };
      try {
        secrets = await resolveWorkspaceEnv(db, this.deps.cipher, id);
        // The template's current files and the command its config.yaml names; written into the agent's directory by
        // the provisioner once the old runtime is stopped (below), before the new one starts.
        // Overlay: the workspace's own files, then its installed plugins' (plugins/<name>/…, a namespace of their own).
        agent = await resolveWorkspaceAgent(db, ws, { ...(await workspaceOwnFiles(db, id)), ...(await workspacePluginFiles(db, id)) });
      } catch (err) {
        if (isDatastoreOutage(err)) throw err;
        await this.fail(id, `provision failed: ${(err as Error).message}`);
        return;
      }
      // The runtime's own credential: one live instance token at a time; API tokens handed to callers survive.
      const minted = mintCredential('workspaceToken');
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('workspace_tokens')
          .set({ revoked_at: sql<Date>`now()` })
          .where('workspace_id', '=', id)
          .where('kind', '=', 'instance')
          .where('revoked_at', 'is', null)
          .execute();
        await trx
          .insertInto('workspace_tokens')
          .values({ id: newId('workspaceToken'), workspace_id: id, token_hash: minted.hash, prefix: minted.displayPrefix, kind: 'instance', created_by: 'provisioner' })
          .execute();
        await trx
          .updateTable('workspaces')
          .set({ status: 'provisioning', updated_at: sql<Date>`now()`, url: '' })
          .where('id', '=', id)
          .where('status', 'not in', STOPPED)
          .execute();
      });
      // Announced before the start: a quick runtime registers (WORKSPACE_ONLINE) before start() returns, and the
      // stream must read provisioning → online, never the reverse. A failed start follows with PROVISION_FAILED.
      await this.emit('WORKSPACE_PROVISIONING', id, { name: ws.name, tier: ws.tier, runtime: ws.runtime, reason });
      await provisioner.stop(id);
      try {
        await provisioner.start({
          workspaceId: id,
          platformUrl,
          token: minted.plaintext,
          secrets,
          command: agent.command,
          files: agent.files,
          heartbeatIntervalSeconds: config.HEARTBEAT_INTERVAL_SECONDS,
          runtime: ws.runtime,
          template: ws.template,
          tier: ws.tier,
        });
      } catch (err) {
        // e.g. the agent's directory could not be made, no agent uid is left, or the control plane refused: say so.
        await this.fail(id, `provision failed: ${(err as Error).message}`);
      }
    });
  }

  private async fail(id: string, message: string) {
    await this.deps.provisioner?.stop(id);
    if (await this.setStatus(id, 'failed', { last_error: message })) await this.emit('WORKSPACE_PROVISION_FAILED', id, { error: message });
  }

  /**
   * An exit nobody asked for: tell the truth (offline), then restart with backoff, or give up on a crash loop. The
   * record is written once the database can take it (an outage is waited out); the restart follows it, so a late
   * "offline" never overwrites the new process's "online".
   */
  private async onProcessExit(id: string, exit: ProcessExit) {
    if (exit.expected || this.closed) return;
    const cause = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    const now = Date.now();
    const recent = (this.crashes.get(id) ?? []).filter((t) => now - t < CRASH_WINDOW_MS);
    recent.push(now);
    this.crashes.set(id, recent);
    let counted = false;
    const crashLoop = recent.length >= CRASH_LIMIT;
    const recorded = await retryThroughOutages(
      async () => {
        if (!counted) {
          await this.deps.db.updateTable('workspaces').set({ restart_count: sql<number>`restart_count + 1` }).where('id', '=', id).execute();
          counted = true;
        }
        if (crashLoop) {
          await this.fail(id, `crash loop: the runtime exited ${recent.length} times within ${CRASH_WINDOW_MS / 1000} s (last: ${cause})`);
          return true;
        }
        if (await this.setStatus(id, 'offline', { last_error: `runtime exited (${cause})` }, ACTIVE)) {
          // No output lines here: events reach every reader, and output may hold secrets (GET /workspaces/:id/logs has it).
          await this.emit('WORKSPACE_OFFLINE', id, { reason: 'process exited', exit: cause });
        }
        return true;
      },
      { log: this.deps.log.child({ workspace_id: id }), what: 'record runtime exit', stopped: () => this.closed },
    );
    if (crashLoop || this.closed) return;
    if (recorded === undefined) this.deps.log.warn({ workspace_id: id }, 'runtime exit not recorded; restarting anyway');
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (recent.length - 1));
    const timer = setTimeout(() => {
      this.backoffTimers.delete(id);
      this.provisionInBackground(id, `restart after exit (${cause})`);
    }, delay);
    timer.unref();
    this.backoffTimers.set(id, timer);
  }

  /** The runtime registered: it is online. */
  async registered(id: string): Promise<void> {
    await this.deps.db.updateTable('workspaces').set({ last_heartbeat_at: sql<Date>`now()` }).where('id', '=', id).execute();
    if (await this.setStatus(id, 'online', { last_error: null }, [...ACTIVE, 'awaiting_agent'])) await this.emit('WORKSPACE_ONLINE', id);
  }

  /** A heartbeat: refresh liveness; an offline workspace that heartbeats is online again. */
  async heartbeat(id: string, report: { errorRate: number; activeTasks: number; uptimeSeconds: number; currentTask: string | null; sampleError: string | null }) {
    const row = await this.deps.db
      .updateTable('workspaces')
      .set({
        last_heartbeat_at: sql<Date>`now()`,
        last_error_rate: report.errorRate,
        active_tasks: report.activeTasks,
        uptime_seconds: report.uptimeSeconds,
        current_task: report.currentTask,
        // What the runtime says went wrong may quote its output: kept for the admin logs route only.
        ...(report.sampleError !== null ? { last_sample_error: report.sampleError } : {}),
      })
      .where('id', '=', id)
      .returning('status')
      .executeTakeFirst();
    if (!row) return;
    if (row.status === 'offline' || row.status === 'awaiting_agent' || row.status === 'provisioning') {
      if (await this.setStatus(id, 'online', {}, ['offline', 'awaiting_agent', 'provisioning'])) await this.emit('WORKSPACE_ONLINE', id);
    } else if (row.status === 'online' && report.errorRate >= 0.5) {
      const message = `the runtime reported an error rate of ${report.errorRate}`;
      if (await this.setStatus(id, 'degraded', { last_error: message }, ['online'])) await this.emit('WORKSPACE_DEGRADED', id, { error_rate: report.errorRate });
    } else if (row.status === 'degraded' && report.errorRate < 0.1) {
      if (await this.setStatus(id, 'online', {}, ['degraded'])) await this.emit('WORKSPACE_ONLINE', id);
    }
  }

  /** Heartbeat TTL → offline; provisioning past the timeout → failed. */
  private async sweep() {
    const { db, config } = this.deps;
    const stale = await db
      .updateTable('workspaces')
      .set({ status: 'offline', updated_at: sql<Date>`now()`, last_error: 'no heartbeat' })
      .where('status', 'in', ['online', 'degraded'])
      .where('last_heartbeat_at', '<', sql<Date>`now() - make_interval(secs => ${config.HEARTBEAT_TTL_SECONDS})`)
      .returning('id')
      .execute();
    for (const { id } of stale) await this.emit('WORKSPACE_OFFLINE', id, { reason: 'heartbeat expired' });
    if (!this.deps.provisioner) return;
    const stuck = await db
      .selectFrom('workspaces')
      .select('id')
      .where('status', '=', 'provisioning')
      .where('external', '=', false)
      .where('updated_at', '<', sql<Date>`now() - make_interval(secs => ${config.PROVISION_TIMEOUT_SECONDS})`)
      .execute();
    for (const { id } of stuck) {
      await this.fail(id, `provisioning timed out — the runtime started but never called /registry/register within ${config.PROVISION_TIMEOUT_SECONDS} s`);
    }
  }

  private requireProvisioner() {
    if (!this.deps.provisioner) throw new DomainError('PROVISIONER_UNAVAILABLE');
  }

  /**
   * Nothing may run under a paused parent: the 409 for the nearest paused ancestor, if any. It names the ancestor
   * only to a caller that can see it (a child's own token is not told its parent's name).
   */
  private async refuseUnderPausedAncestor(id: string, scope: WorkspaceScope): Promise<void> {
    const res = await sql<{ id: string; name: string }>`
      with recursive up(id, parent_id, name, status, depth) as (
        select id, parent_id, name, status, 0 from workspaces where id = ${id}
        union all
        select w.id, w.parent_id, w.name, w.status, up.depth + 1 from workspaces w join up on w.id = up.parent_id
      )
      select id, name from up where depth > 0 and status = 'paused' order by depth limit 1`.execute(this.deps.db);
    const paused = res.rows[0];
    if (!paused) return;
    if (!scopeCovers(scope, [paused.id])) throw new DomainError('CONFLICT', 'a parent workspace is paused — resume it first');
    throw new DomainError('CONFLICT', `parent workspace "${paused.name}" is paused — resume it first`);
  }

  private async descendants(id: string): Promise<Array<{ id: string; name: string }>> {
    const ids = (await liveSubtreeIds(this.deps.db, id)).slice(1);
    if (ids.length === 0) return [];
    return this.deps.db.selectFrom('workspaces').select(['id', 'name']).where('id', 'in', ids).execute();
  }

  async restart(id: string, cascade: boolean, scope: WorkspaceScope): Promise<{ status: 'provisioning' | 'noop'; restarted_count: number }> {
    const ws = await getWorkspace(this.deps.db, id);
    if (!ws) throw new DomainError('WORKSPACE_NOT_FOUND');
    const ids = cascade ? await liveSubtreeIds(this.deps.db, id) : [id];
    requireSubtreeInScope(scope, ids);
    await this.refuseUnderPausedAncestor(id, scope);
    if (ws.external) return { status: 'noop', restarted_count: 0 };
    this.requireProvisioner();
    let count = 0;
    for (const wid of ids) {
      const w = await getWorkspace(this.deps.db, wid);
      if (!w || w.external || w.status === 'paused') continue;
      // A manual restart is how an operator clears `failed`, and it wakes a hibernated workspace.
      await this.deps.db
        .updateTable('workspaces')
        .set({ status: 'provisioning', last_error: null, updated_at: sql<Date>`now()` })
        .where('id', '=', wid)
        .where('status', 'in', ['failed', 'hibernated'])
        .execute();
      this.crashes.delete(wid);
      await this.provision(wid, 'restart requested');
      count += 1;
    }
    return { status: 'provisioning', restarted_count: count };
  }

  async pause(id: string, cascade: boolean, scope: WorkspaceScope): Promise<{ status: 'paused'; paused_count: number }> {
    const ws = await getWorkspace(this.deps.db, id);
    if (!ws || ws.status === 'paused') throw new DomainError('WORKSPACE_NOT_FOUND', 'workspace not found or already paused');
    const below = await this.descendants(id);
    // Live descendants are either paused too (cascade) or listed in the 409: both need all of them in scope.
    requireSubtreeInScope(scope, below.map((d) => d.id));
    const live = below.length;
    if (live > 0 && !cascade) {
      throw new DomainError('CONFLICT', 'workspace has descendants — use ?cascade=true to pause all', { descendants: below });
    }
    const ids = [id, ...below.map((d) => d.id)];
    let count = 0;
    for (const wid of ids) {
      await this.exclusive(wid, async () => {
        const timer = this.backoffTimers.get(wid);
        if (timer) clearTimeout(timer);
        this.backoffTimers.delete(wid);
        const res = await this.deps.db
          .updateTable('workspaces')
          .set({ status: 'paused', url: '', updated_at: sql<Date>`now()` })
          .where('id', '=', wid)
          .where('status', 'not in', ['removed', 'paused', 'hibernating'])
          .executeTakeFirst();
        await this.deps.provisioner?.stop(wid);
        if (Number(res.numUpdatedRows) > 0) {
          count += 1;
          await this.emit('WORKSPACE_PAUSED', wid);
        }
      });
    }
    return { status: 'paused', paused_count: count };
  }

  async resume(id: string, cascade: boolean, scope: WorkspaceScope): Promise<{ status: 'provisioning'; resumed_count: number }> {
    const ws = await getWorkspace(this.deps.db, id);
    if (!ws || !WAKEABLE.includes(ws.status)) throw new DomainError('WORKSPACE_NOT_FOUND', 'workspace not found or not paused');
    const below = await this.descendants(id);
    const pausedBelow: Array<{ id: string; name: string }> = [];
    for (const d of below) if ((await getWorkspace(this.deps.db, d.id))?.status === 'paused') pausedBelow.push(d);
    // A cascade acts on the subtree, and without it paused descendants are listed in the 409: either way, all in scope.
    if (cascade || pausedBelow.length > 0) requireSubtreeInScope(scope, below.map((d) => d.id));
    if (!ws.external) this.requireProvisioner();
    await this.refuseUnderPausedAncestor(id, scope);
    if (pausedBelow.length > 0 && !cascade) {
      throw new DomainError('CONFLICT', 'workspace has paused descendants — use ?cascade=true to resume all', { descendants: pausedBelow });
    }
    const ids = [id, ...(cascade ? pausedBelow.map((d) => d.id) : [])];
    for (const wid of ids) {
      const next = (await getWorkspace(this.deps.db, wid))?.external ? 'awaiting_agent' : 'provisioning';
      await this.deps.db.updateTable('workspaces').set({ status: next, updated_at: sql<Date>`now()` }).where('id', '=', wid).where('status', 'in', WAKEABLE).execute();
      this.crashes.delete(wid);
      await this.provision(wid, 'resumed');
    }
    return { status: 'provisioning', resumed_count: ids.length };
  }

  /**
   * Hibernate (reference §3.4): only an online or degraded workspace; active tasks need `force`. An atomic claim to
   * `hibernating` (which the reference's force path skips, then answers 200 without hibernating — its §10.11), the
   * process stopped, then `hibernated` with no URL and WORKSPACE_HIBERNATED. Restart and resume wake it.
   */
  async hibernate(id: string, force: boolean): Promise<{ status: 'hibernated' }> {
    const ws = await getWorkspace(this.deps.db, id);
    if (!ws || (ws.status !== 'online' && ws.status !== 'degraded')) {
      throw new DomainError('WORKSPACE_NOT_FOUND', 'workspace not found or not in a hibernatable state (must be online or degraded)');
    }
    if (ws.active_tasks > 0 && !force) {
      throw new DomainError('CONFLICT', 'workspace has active tasks; use ?force=true to terminate them', { active_tasks: ws.active_tasks });
    }
    return this.exclusive(id, async () => {
      let claim = this.deps.db
        .updateTable('workspaces')
        .set({ status: 'hibernating', updated_at: sql<Date>`now()` })
        .where('id', '=', id)
        .where('status', 'in', ['online', 'degraded']);
      if (!force) claim = claim.where('active_tasks', '=', 0);
      const claimed = await claim.executeTakeFirst();
      if (Number(claimed.numUpdatedRows) === 0) {
        throw new DomainError('WORKSPACE_NOT_FOUND', 'workspace not found or not in a hibernatable state (must be online or degraded)');
      }
      const timer = this.backoffTimers.get(id);
      if (timer) clearTimeout(timer);
      this.backoffTimers.delete(id);
      await this.deps.provisioner?.stop(id);
      await this.deps.db
        .updateTable('workspaces')
        .set({ status: 'hibernated', url: '', active_tasks: 0, current_task: null, updated_at: sql<Date>`now()` })
        .where('id', '=', id)
        .where('status', '=', 'hibernating')
        .execute();
      await this.emit('WORKSPACE_HIBERNATED', id, { name: ws.name });
      return { status: 'hibernated' as const };
    });
  }

  /**
   * POST /admin/workspaces/:id/restart (reference §3.4): dispatched through the coalesced restart, answered at once.
   * A workspace that is not meant to be running (paused, hibernated, failed, external) is left as it is.
   */
  async dispatchRestart(id: string): Promise<{ status: 'restart_dispatched'; workspace_id: string }> {
    const ws = await getWorkspace(this.deps.db, id);
    if (!ws) throw new DomainError('WORKSPACE_NOT_FOUND');
    this.requireProvisioner();
    if (!ws.external && ACTIVE.includes(ws.status)) this.requestRestart(id);
    return { status: 'restart_dispatched', workspace_id: id };
  }

  /** After the rows are marked removed: stop their processes. */
  async removed(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      await this.exclusive(id, async () => {
        const timer = this.backoffTimers.get(id);
        if (timer) clearTimeout(timer);
        this.backoffTimers.delete(id);
        await this.deps.provisioner?.remove(id);
      });
      await this.emit('WORKSPACE_REMOVED', id);
    }
  }

  secretsChanged(change: SecretsChange): void {
    // The secret write was acknowledged: its restart must happen, after an outage if need be.
    void retryThroughOutages(() => this.affectedBy(change), {
      log: this.deps.log,
      what: 'work out which workspaces a secret change affects',
      stopped: () => this.closed,
    }).then((ids) => {
      for (const id of ids ?? []) this.requestRestart(id);
    });
  }

  private async affectedBy(change: SecretsChange): Promise<string[]> {
    if (!this.deps.provisioner) return [];
    let q = this.deps.db.selectFrom('workspaces as w').select('w.id').where('w.status', 'in', ACTIVE).where('w.external', '=', false);
    if (change.workspaceIds) q = q.where('w.id', 'in', change.workspaceIds.length > 0 ? change.workspaceIds : ['00000000-0000-0000-0000-000000000000']);
    if (change.globalKey !== undefined) {
      const key = change.globalKey;
      // A workspace with its own value for the key does not see the org-wide one change.
      q = q.where((eb) => eb.not(eb.exists(eb.selectFrom('workspace_secrets as s').select('s.key').whereRef('s.workspace_id', '=', 'w.id').where('s.key', '=', key))));
    }
    return (await q.execute()).map((r) => r.id);
  }

  /**
   * Coalesced restart. Requests are debounced (the cycle starts once no request came for QUIET_MS, or MAX_WAIT_MS
   * after the first); requests during a cycle set `pending`, and one more cycle runs afterwards. Each cycle reads
   * the environment when it starts, so the last value written always reaches the process, and a burst of writes
   * costs at most two restarts (the reference drops the second write instead: its §5.3/§10.6).
   */
  private requestRestart(id: string) {
    let state = this.restarts.get(id);
    if (!state) {
      state = { running: null, pending: false, lastRequest: 0 };
      this.restarts.set(id, state);
    }
    state.lastRequest = Date.now();
    if (state.running) {
      state.pending = true;
      return;
    }
    const s = state;
    s.running = (async () => {
      do {
        const first = Date.now();
        for (;;) {
          const quietFor = Date.now() - s.lastRequest;
          if (quietFor >= QUIET_MS || Date.now() - first >= MAX_WAIT_MS) break;
          await new Promise((r) => setTimeout(r, QUIET_MS - quietFor));
        }
        // Everything requested up to here is covered by this cycle's fresh read of the environment.
        s.pending = false;
        await retryThroughOutages(() => this.provision(id, 'secrets changed'), {
          log: this.deps.log.child({ workspace_id: id }),
          what: 'restart after a secret change',
          stopped: () => this.closed,
        });
      } while (s.pending && !this.closed);
      s.running = null;
    })();
  }
}
