import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { AgentSandbox } from '../../core/compute/agent-sandbox.js';
import type { ProcessExit } from '../../core/compute/managed-process.js';
import { RuntimeLauncher, runtimeDigest, type RuntimeLaunch } from '../../core/compute/runtime-launcher.js';
import { DomainError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { ControlPlaneConfig } from '../config.js';
import type { ControlPlaneSchema, CpWorkspaceInstanceState } from '../db/schema.js';

export interface WorkspaceInstance {
  instance_id: string;
  workspace_id: string;
  org_id: string;
  runtime: string;
  state: CpWorkspaceInstanceState;
}

/**
 * The workspace runtimes the control plane runs itself (reference §2.5), on this machine through the shared
 * compute module. The database records which org each runtime belongs to and what became of it; the workspace
 * token and environment exist only in memory and in the runtime's launch (fd 3), never at rest.
 *
 * Owned by the app (buildControlPlaneApp): closing the app stops every runtime.
 */
export class WorkspaceRunner {
  /** Workspace id → the instance running it now. One runtime per workspace id on this machine. */
  private readonly live = new Map<string, { instanceId: string; orgId: string }>();
  private digest: string | null = null;
  /** Serialises everything done to one workspace id (two provisions at once must not both start a runtime). */
  private readonly locks = new Map<string, Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly db: Kysely<ControlPlaneSchema>,
    private readonly launcher: RuntimeLauncher,
    private readonly log: Logger,
  ) {
    launcher.onExit((workspaceId, exit) => void this.exited(workspaceId, exit));
  }

  /** From config: an agent sandbox of the CP's own (its own uid range and agent directory). */
  static fromConfig(db: Kysely<ControlPlaneSchema>, config: ControlPlaneConfig, log: Logger): WorkspaceRunner {
    const inMemory = config.MOLECULE_DATA_DIR.startsWith('memory://');
    const sandbox = new AgentSandbox({
      mode: config.WORKSPACE_AGENT_ISOLATION,
      homeRoot: config.WORKSPACE_AGENT_HOME_DIR ?? (inMemory ? 'memory://' : path.join(config.MOLECULE_DATA_DIR, 'cp', 'agents')),
      homeRootIsDefault: config.WORKSPACE_AGENT_HOME_DIR === undefined,
      uidBase: config.WORKSPACE_AGENT_UID_BASE,
      uidCount: config.WORKSPACE_AGENT_UID_COUNT,
      log,
    });
    return new WorkspaceRunner(db, new RuntimeLauncher(sandbox, log), log);
  }

  /** The runtime build this CP can run: `sha256:` over the runtime's built entry files (RUNTIME_ENTRY_FILES). */
  availableDigest(): string {
    this.digest ??= runtimeDigest();
    return this.digest;
  }

  /** The org running `workspaceId` on this machine now, if any. */
  ownerOf(workspaceId: string): string | null {
    return this.live.get(workspaceId)?.orgId ?? null;
  }

  /**
   * Starts the workspace's runtime for `orgId`, replacing (stopping first) the one it had. The caller has checked
   * that no other org runs this workspace id.
   */
  private exclusive<T>(workspaceId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(workspaceId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);
    const settled = run.catch(() => undefined);
    this.locks.set(workspaceId, settled);
    void settled.then(() => {
      if (this.locks.get(workspaceId) === settled) this.locks.delete(workspaceId);
    });
    return run;
  }

  provision(orgId: string, runtime: string, digest: string, launch: RuntimeLaunch): Promise<WorkspaceInstance> {
    return this.exclusive(launch.workspaceId, () => this.provisionNow(orgId, runtime, digest, launch));
  }

  private async provisionNow(orgId: string, runtime: string, digest: string, launch: RuntimeLaunch): Promise<WorkspaceInstance> {
    if (this.closed) throw new Error('the control plane is shutting down');
    const workspaceId = launch.workspaceId;
    // Checked again under the lock: another org's runtime of this id is never replaced.
    const holder = this.live.get(workspaceId);
    if (holder && holder.orgId !== orgId) throw new DomainError('CONFLICT', 'this workspace id cannot be provisioned');
    await this.stopNow(orgId, workspaceId, null, false);
    const instanceId = newId('workspaceInstance');
    await this.db.insertInto('cp_workspace_instances').values({ instance_id: instanceId, workspace_id: workspaceId, org_id: orgId, runtime, digest, state: 'running' }).execute();
    this.live.set(workspaceId, { instanceId, orgId });
    try {
      this.launcher.start({ ...launch, orgId });
    } catch (err) {
      this.live.delete(workspaceId);
      await this.db.updateTable('cp_workspace_instances').set({ state: 'failed', terminated_at: sql<Date>`now()` }).where('instance_id', '=', instanceId).execute();
      throw err;
    }
    return { instance_id: instanceId, workspace_id: workspaceId, org_id: orgId, runtime, state: 'running' };
  }

  /** The org's instances of a workspace, newest first (another org's are never returned). */
  async instancesOf(orgId: string, workspaceId: string): Promise<WorkspaceInstance[]> {
    return this.db
      .selectFrom('cp_workspace_instances')
      .select(['instance_id', 'workspace_id', 'org_id', 'runtime', 'state'])
      .where('org_id', '=', orgId)
      .where('workspace_id', '=', workspaceId)
      .orderBy('created_at', 'desc')
      .execute();
  }

  /**
   * Stops the org's runtime of `workspaceId` (only the instance named, when one is) and marks its running
   * instances terminated. `prune` also deletes the agent's directory. Returns how many instances were running.
   */
  stopInstances(orgId: string, workspaceId: string, instanceId: string | null, prune: boolean): Promise<number> {
    return this.exclusive(workspaceId, () => this.stopNow(orgId, workspaceId, instanceId, prune));
  }

  private async stopNow(orgId: string, workspaceId: string, instanceId: string | null, prune: boolean): Promise<number> {
    const current = this.live.get(workspaceId);
    if (current && current.orgId === orgId && (instanceId === null || current.instanceId === instanceId)) {
      this.live.delete(workspaceId);
      if (prune) await this.launcher.remove(workspaceId);
      else await this.launcher.stop(workspaceId);
    }
    let q = this.db
      .updateTable('cp_workspace_instances')
      .set({ state: 'terminated', terminated_at: sql<Date>`now()` })
      .where('org_id', '=', orgId)
      .where('workspace_id', '=', workspaceId)
      .where('state', '=', 'running');
    if (instanceId !== null) q = q.where('instance_id', '=', instanceId);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  /** Stops every runtime the CP runs for the org (the org delete cascade). Returns how many were stopped. */
  async terminateOrg(orgId: string): Promise<number> {
    const ids = [...this.live].filter(([, v]) => v.orgId === orgId).map(([workspaceId]) => workspaceId);
    for (const workspaceId of ids) {
      this.live.delete(workspaceId);
      await this.launcher.remove(workspaceId);
    }
    await this.db
      .updateTable('cp_workspace_instances')
      .set({ state: 'terminated', terminated_at: sql<Date>`now()` })
      .where('org_id', '=', orgId)
      .where('state', '=', 'running')
      .execute();
    return ids.length;
  }

  /** A runtime exited on its own: its instance is `stopped` (exit code 0) or `failed`; the tenant decides what next. */
  private async exited(workspaceId: string, exit: ProcessExit): Promise<void> {
    if (exit.expected) return;
    const current = this.live.get(workspaceId);
    if (!current) return;
    this.live.delete(workspaceId);
    const state: CpWorkspaceInstanceState = exit.code === 0 ? 'stopped' : 'failed';
    this.log.warn({ workspace_id: workspaceId, instance_id: current.instanceId, code: exit.code, signal: exit.signal }, 'workspace runtime exited');
    try {
      await this.db
        .updateTable('cp_workspace_instances')
        .set({ state, terminated_at: sql<Date>`now()` })
        .where('instance_id', '=', current.instanceId)
        .where('state', '=', 'running')
        .execute();
    } catch (err) {
      this.log.error({ err, workspace_id: workspaceId }, 'could not record a workspace runtime exit');
    }
  }

  /**
   * At start: rows still `running` name runtimes of an earlier CP process, which died with it (a runtime exits when
   * its supervisor's pipe closes). They are `terminated`; their tenants see it and provision again.
   */
  async reconcile(): Promise<void> {
    const running = [...this.live.values()].map((v) => v.instanceId);
    let q = this.db.updateTable('cp_workspace_instances').set({ state: 'terminated', terminated_at: sql<Date>`now()` }).where('state', '=', 'running');
    if (running.length > 0) q = q.where('instance_id', 'not in', running);
    await q.execute();
  }

  /** Stops every runtime (app close). Their rows stay `running` only if the database is already gone. */
  async close(): Promise<void> {
    this.closed = true;
    const entries = [...this.live];
    this.live.clear();
    await this.launcher.stopAll();
    if (entries.length === 0) return;
    await this.db
      .updateTable('cp_workspace_instances')
      .set({ state: 'terminated', terminated_at: sql<Date>`now()` })
      .where(
        'instance_id',
        'in',
        entries.map(([, v]) => v.instanceId),
      )
      .where('state', '=', 'running')
      .execute()
      .catch((err: unknown) => this.log.warn({ err }, 'could not record the runtimes stopped at shutdown'));
  }
}

/** Stops every workspace runtime the control plane runs for an org (called by the org delete cascade). */
export function terminateOrgWorkspaces(target: WorkspaceRunner | { workspaces: WorkspaceRunner }, orgId: string): Promise<number> {
  const runner = target instanceof WorkspaceRunner ? target : target.workspaces;
  return runner.terminateOrg(orgId);
}
