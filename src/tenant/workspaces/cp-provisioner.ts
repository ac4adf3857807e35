import type { ProcessExit, ProcessInfo } from '../../core/compute/managed-process.js';
import { withoutReservedNames } from '../../core/compute/reserved-env.js';
import type { RuntimeLaunch, WorkspaceProvisioner } from './provisioner.js';

export interface ControlPlaneProvisionerOptions {
  /** The control plane's base URL (CP_UPSTREAM_URL). */
  cpUrl: string;
  /** The CP's PROVISION_SHARED_SECRET (MOLECULE_CP_SHARED_SECRET). */
  secret: string;
  /** This tenant's admin token: it names the org to the CP (X-Molecule-Admin-Token). */
  adminToken: string;
  orgId: string;
  /** How often the state of every runtime is asked for (a runtime that is no longer running is an exit). */
  pollIntervalMs: number;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** Per request. */
  timeoutMs?: number;
}

/** What a workspace without a runtime name asks the control plane for (the pin it needs is keyed by it). */
export const DEFAULT_RUNTIME = 'default';

interface Instance {
  instanceId: string;
  startedAt: Date;
}

/**
 * `WORKSPACE_PROVISIONER=cp`: the control plane runs the workspace runtimes (reference §2.5). Each start is a
 * POST <CP>/cp/workspaces/provision (201 only is success; anything else is a failed start carrying the CP's
 * `error`), each stop a DELETE, and the state of every runtime is polled: one that is no longer `running` is an
 * unexpected exit, reported through onExit like a local process's. The runtime registers and heartbeats with this
 * tenant at `platform_url` exactly as a local one does.
 *
 * The workspace token and secrets travel in the provision request only; the CP hands them to the runtime and keeps
 * none of them.
 */
export class ControlPlaneWorkspaceProvisioner implements WorkspaceProvisioner {
  readonly kind = 'cp';
  private readonly instances = new Map<string, Instance>();
  private readonly lastExits = new Map<string, ProcessExit>();
  private readonly listeners: Array<(workspaceId: string, exit: ProcessExit) => void> = [];
  private readonly poller: NodeJS.Timeout;
  private polling = false;

  constructor(private readonly opts: ControlPlaneProvisionerOptions) {
    this.poller = setInterval(() => void this.poll(), opts.pollIntervalMs);
    this.poller.unref();
  }

  private url(path: string): string {
    return `${this.opts.cpUrl.replace(/\/+$/, '')}/cp${path}`;
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.opts.secret}`, 'x-molecule-admin-token': this.opts.adminToken, 'x-molecule-org-id': this.opts.orgId };
  }

  private request(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(this.url(path), {
      method,
      headers: body === undefined ? this.headers() : { ...this.headers(), 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
    });
  }

  async start(launch: RuntimeLaunch): Promise<void> {
    const id = launch.workspaceId;
    const { kept, dropped } = withoutReservedNames(launch.secrets);
    if (dropped.length > 0) this.opts.log.warn({ workspace_id: id, dropped_keys: dropped }, 'secrets with reserved names were not passed to the agent; delete them');
    let res: Response;
    try {
      res = await this.request('POST', '/workspaces/provision', {
        org_id: this.opts.orgId,
        workspace_id: id,
        runtime: launch.runtime || DEFAULT_RUNTIME,
        platform_url: launch.platformUrl,
        ...(launch.template ? { template: launch.template } : {}),
        ...(launch.tier !== undefined ? { tier: launch.tier } : {}),
        provider: 'local',
        env: { ...kept, MOLECULE_WORKSPACE_TOKEN: launch.token, HEARTBEAT_INTERVAL_SECONDS: String(launch.heartbeatIntervalSeconds) },
        // The template's files (base64) and command, from this tenant's database: the CP writes them into the agent's
        // directory exactly as a local provisioner does. `agent_command` is ours, beyond the reference.
        ...(launch.files && Object.keys(launch.files).length > 0
          ? { config_files: Object.fromEntries(Object.entries(launch.files).map(([p, b]) => [p, b.toString('base64')])) }
          : {}),
        ...(launch.command ? { agent_command: launch.command } : {}),
      });
    } catch (err) {
      throw new Error(`the control plane could not be reached to run the workspace: ${(err as Error).message}`);
    }
    // The reference tenant accepts 201 only and reads only `error` (§2.5).
    const body = (await res.json().catch(() => ({}))) as { instance_id?: unknown; error?: unknown };
    if (res.status !== 201 || typeof body.instance_id !== 'string') {
      const error = typeof body.error === 'string' ? body.error : `HTTP ${res.status}`;
      throw new Error(`the control plane did not run the workspace: ${error}`);
    }
    this.instances.set(id, { instanceId: body.instance_id, startedAt: new Date() });
    this.lastExits.delete(id);
  }

  private async terminate(workspaceId: string, prune: boolean): Promise<void> {
    const instance = this.instances.get(workspaceId);
    this.instances.delete(workspaceId);
    if (!instance && !prune) return;
    const query = new URLSearchParams({ provider: 'local', ...(instance ? { instance_id: instance.instanceId } : {}), ...(prune ? { prune: 'true' } : {}) });
    try {
      const res = await this.request('DELETE', `/workspaces/${encodeURIComponent(workspaceId)}?${query.toString()}`);
      await res.body?.cancel();
      // 404: the CP has nothing of this workspace (never provisioned there, or already gone).
      if (res.status !== 200 && res.status !== 404) this.opts.log.warn({ workspace_id: workspaceId, status: res.status }, 'the control plane did not stop the workspace runtime');
    } catch (err) {
      this.opts.log.warn({ workspace_id: workspaceId, err: (err as Error).message }, 'the control plane could not be reached to stop the workspace runtime');
    }
  }

  stop(workspaceId: string): Promise<void> {
    return this.terminate(workspaceId, false);
  }

  remove(workspaceId: string): Promise<void> {
    return this.terminate(workspaceId, true);
  }

  info(workspaceId: string): ProcessInfo | null {
    const instance = this.instances.get(workspaceId);
    const lastExit = this.lastExits.get(workspaceId) ?? null;
    if (!instance) return lastExit ? { pid: null, running: false, startedAt: null, uptimeSeconds: 0, rssBytes: null, restarts: 0, lastExit } : null;
    return {
      pid: null,
      running: true,
      startedAt: instance.startedAt,
      uptimeSeconds: Math.floor((Date.now() - instance.startedAt.getTime()) / 1000),
      rssBytes: null,
      restarts: 0,
      lastExit,
    };
  }

  /** The runtime's output stays on the machine that runs it (the control plane): none here. */
  logs(): string[] {
    return [];
  }

  onExit(listener: (workspaceId: string, exit: ProcessExit) => void): void {
    this.listeners.push(listener);
  }

  /** Asks for every runtime's state; one the CP no longer runs exited (code 0 when it stopped by itself). */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const [workspaceId, instance] of [...this.instances]) {
        let state: string | null = null;
        try {
          const res = await this.request('GET', `/workspaces/${encodeURIComponent(workspaceId)}/status?instance_id=${encodeURIComponent(instance.instanceId)}`);
          const body = (await res.json().catch(() => ({}))) as { state?: unknown };
          if (res.status === 200 && typeof body.state === 'string') state = body.state;
          else if (res.status === 404) state = 'terminated';
        } catch {
          // The CP is briefly unreachable: ask again next time.
        }
        if (state === null || state === 'running') continue;
        // Replaced or stopped meanwhile: only the instance still current exits.
        if (this.instances.get(workspaceId)?.instanceId !== instance.instanceId) continue;
        this.instances.delete(workspaceId);
        const exit: ProcessExit = { code: state === 'stopped' ? 0 : 1, signal: null, expected: false, at: new Date() };
        this.lastExits.set(workspaceId, exit);
        this.opts.log.info({ workspace_id: workspaceId, instance_id: instance.instanceId, state }, 'the control plane no longer runs the workspace runtime');
        for (const l of this.listeners) l(workspaceId, exit);
      }
    } finally {
      this.polling = false;
    }
  }

  /** Tenant shutdown: the runtimes it asked for stop too (as local ones do); the next start provisions them again. */
  async stopAll(): Promise<void> {
    clearInterval(this.poller);
    await Promise.all([...this.instances.keys()].map((id) => this.stop(id)));
  }
}
