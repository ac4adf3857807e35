import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedProcess, type ProcessExit, type ProcessInfo } from '../../core/compute/managed-process.js';

/** What a provisioner needs to run one workspace. */
export interface RuntimeLaunch {
  workspaceId: string;
  platformUrl: string;
  /** The workspace's instance token (plaintext, handed to the process only). */
  token: string;
  /** Resolved secrets: org-wide, overridden by the workspace's own. */
  secrets: Record<string, string>;
  /** The template's command, if it has one. */
  command: string | undefined;
  heartbeatIntervalSeconds: number;
}

/**
 * Runs workspace runtimes. `local` spawns one OS process per workspace on this machine; a control-plane backend
 * comes with provisioning. Exits that were not asked for are reported through `onExit`.
 */
export interface WorkspaceProvisioner {
  readonly kind: string;
  start(launch: RuntimeLaunch): void;
  stop(workspaceId: string): Promise<void>;
  info(workspaceId: string): ProcessInfo | null;
  logs(workspaceId: string): string[];
  onExit(listener: (workspaceId: string, exit: ProcessExit) => void): void;
  stopAll(): Promise<void>;
}

const RUNTIME_BIN = fileURLToPath(new URL('../../bin/molecule-platform.js', import.meta.url));

/** Only these variables of the tenant's own environment reach a workspace; its secrets come on top. */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR', 'NODE_OPTIONS'];

export class LocalProcessProvisioner implements WorkspaceProvisioner {
  readonly kind = 'local';
  private readonly processes = new Map<string, ManagedProcess>();
  private readonly exitListeners: Array<(workspaceId: string, exit: ProcessExit) => void> = [];

  start(launch: RuntimeLaunch): void {
    const inherited: Record<string, string> = {};
    for (const k of INHERITED_ENV) if (process.env[k] !== undefined) inherited[k] = process.env[k]!;
    const spec = {
      command: process.execPath,
      args: [RUNTIME_BIN, 'runtime'],
      env: {
        ...inherited,
        ...launch.secrets,
        // Platform variables last: a secret cannot impersonate another workspace.
        WORKSPACE_ID: launch.workspaceId,
        PLATFORM_URL: launch.platformUrl,
        MOLECULE_WORKSPACE_TOKEN: launch.token,
        HEARTBEAT_INTERVAL_SECONDS: String(launch.heartbeatIntervalSeconds),
        MOLECULE_WATCH_STDIN: '1',
        ...(launch.command ? { RUNTIME_COMMAND: launch.command } : {}),
      },
    };
    let proc = this.processes.get(launch.workspaceId);
    if (!proc) {
      proc = new ManagedProcess(spec);
      const id = launch.workspaceId;
      proc.on('exit', (exit) => {
        for (const l of this.exitListeners) l(id, exit);
      });
      this.processes.set(id, proc);
    }
    proc.start(spec);
  }

  async stop(workspaceId: string): Promise<void> {
    await this.processes.get(workspaceId)?.stop();
  }

  info(workspaceId: string): ProcessInfo | null {
    return this.processes.get(workspaceId)?.info() ?? null;
  }

  logs(workspaceId: string): string[] {
    return this.processes.get(workspaceId)?.logs() ?? [];
  }

  onExit(listener: (workspaceId: string, exit: ProcessExit) => void): void {
    this.exitListeners.push(listener);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.processes.values()].map((p) => p.stop()));
  }
}

/** A template's command, from `<templatesDir>/<template>/template.json`; none when there is no such file. */
export function templateCommand(templatesDir: string, template: string | null): string | undefined {
  if (!template) return undefined;
  const file = path.join(path.resolve(templatesDir), template, 'template.json');
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { command?: unknown };
  return typeof parsed.command === 'string' && parsed.command.trim() !== '' ? parsed.command : undefined;
}
