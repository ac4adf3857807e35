import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AgentSandbox } from './agent-sandbox.js';
import { ManagedProcess, type ProcessExit, type ProcessInfo } from './managed-process.js';
import { withoutReservedNames } from './reserved-env.js';

/**
 * Compute (DESIGN.md §2, §10): running workspace runtimes on this machine. One runtime process per workspace,
 * shared by the tenant's `local` workspace provisioner and the control plane's workspace runner (reference §2.5),
 * so both start, hand over and sweep an agent in exactly one way.
 */

/** What it takes to run one workspace. */
export interface RuntimeLaunch {
  workspaceId: string;
  platformUrl: string;
  /** The workspace's instance token (plaintext, handed to the process only; never stored). */
  token: string;
  /** Resolved secrets: the agent's environment (names the platform reserves are dropped). */
  secrets: Record<string, string>;
  /** The agent command, if the template has one. */
  command: string | undefined;
  /**
   * Files written into the agent's directory before it starts (the template's, overlaid by the workspace's own):
   * relative paths, validated again and written without following any link (materialise.ts).
   */
  files?: Record<string, Buffer> | undefined;
  heartbeatIntervalSeconds: number;
  /** The org the workspace belongs to: the agent needs it for the routing header of its own API calls. */
  orgId?: string | undefined;
  /** The workspace's runtime, template and tier: what a remote backend (the control plane) is asked to run. */
  runtime?: string | undefined;
  template?: string | null | undefined;
  tier?: number | undefined;
}

/** The runtime's entry point: this build's `molecule-platform runtime`. */
const RUNTIME_BIN = fileURLToPath(new URL('../../bin/molecule-platform.js', import.meta.url));

/**
 * The built files that make up "the runtime image" of a local process: the binary's entry and the runtime's own
 * module. Their digest (`runtimeDigest`) is what a control plane's runtime pin names for local processes.
 */
export const RUNTIME_ENTRY_FILES: readonly string[] = Object.freeze([RUNTIME_BIN, fileURLToPath(new URL('../../runtime/main.js', import.meta.url))]);

/** `sha256:<hex>` over RUNTIME_ENTRY_FILES, in that order, each file's bytes preceded by its length (no ambiguity). */
export function runtimeDigest(files: readonly string[] = RUNTIME_ENTRY_FILES): string {
  const hash = createHash('sha256');
  for (const file of files) {
    const bytes = readFileSync(file);
    hash.update(`${bytes.length}\n`);
    hash.update(bytes);
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Only these variables of the supervisor's own environment reach a runtime (the operator's, never a secret). */
export const INHERITED_ENV: readonly string[] = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR', 'NODE_OPTIONS'];

/** The file descriptor on which a runtime receives its agent's launch. */
const LAUNCH_FD = 3;

export interface RuntimeLauncherLog {
  warn(obj: object, msg: string): void;
}

/**
 * One runtime process per workspace on this machine. The runtime's own environment holds only the platform's
 * variables; the agent's launch — its secrets, already wrapped in the sandbox (uid, bubblewrap) — goes over fd 3 to
 * the runtime, which starts it. Every stop, and every exit of a runtime, ends with a sweep of the agent's processes.
 */
export class RuntimeLauncher {
  private readonly processes = new Map<string, ManagedProcess>();
  /** The agent's process group as its runtime reported it (modes without a uid per workspace). */
  private readonly agentGroups = new Map<string, number>();
  private readonly exitListeners: Array<(workspaceId: string, exit: ProcessExit) => void> = [];

  constructor(
    private readonly sandbox: AgentSandbox,
    private readonly log: RuntimeLauncherLog,
  ) {}

  /** Starts the workspace's runtime (a running one is left alone: stop it first for a fresh launch). */
  start(launch: RuntimeLaunch): void {
    const id = launch.workspaceId;
    const inherited: Record<string, string> = {};
    for (const k of INHERITED_ENV) if (process.env[k] !== undefined) inherited[k] = process.env[k]!;
    // Rows written before reserved names were refused: dropped here, named in the log (never their values).
    const { kept, dropped } = withoutReservedNames(launch.secrets);
    if (dropped.length > 0) this.log.warn({ workspace_id: id, dropped_keys: dropped }, 'secrets with reserved names were not passed to the agent; delete them');
    // The runtime is stopped and the agent swept (stop() comes first): its files are written before anything runs.
    if (launch.files && Object.keys(launch.files).length > 0) this.sandbox.materialise(id, launch.files);
    const agent = launch.command
      ? this.sandbox.launch(id, launch.command, {
          ...kept,
          // Platform variables last: authoritative, whatever a secret says.
          WORKSPACE_ID: id,
          PLATFORM_URL: launch.platformUrl,
          MOLECULE_WORKSPACE_TOKEN: launch.token,
          ...(launch.orgId ? { MOLECULE_ORG_ID: launch.orgId } : {}),
        })
      : null;
    const spec = {
      command: process.execPath,
      args: [RUNTIME_BIN, 'runtime'],
      env: {
        ...inherited,
        WORKSPACE_ID: id,
        PLATFORM_URL: launch.platformUrl,
        MOLECULE_WORKSPACE_TOKEN: launch.token,
        HEARTBEAT_INTERVAL_SECONDS: String(launch.heartbeatIntervalSeconds),
        MOLECULE_WATCH_STDIN: '1',
        MOLECULE_LAUNCH_FD: String(LAUNCH_FD),
      },
      control: { agent },
    };
    let proc = this.processes.get(id);
    if (!proc) {
      proc = new ManagedProcess(spec);
      proc.on('control', (message) => {
        const pgid = message['agent_pgid'];
        // A process group id, never 0 or 1 (kill(-1) would reach every process) nor our own.
        if (typeof pgid === 'number' && Number.isInteger(pgid) && pgid > 1 && pgid !== process.pid) this.agentGroups.set(id, pgid);
      });
      proc.on('exit', (exit) => {
        // A runtime killed outright leaves its agent's children behind: sweep before anyone restarts it.
        void this.sweep(id).then(() => {
          for (const l of this.exitListeners) l(id, exit);
        });
      });
      this.processes.set(id, proc);
    }
    this.agentGroups.delete(id);
    proc.start(spec);
  }

  /** Kills what is left of the workspace's agent: every process of its uid, or its process group. */
  private async sweep(workspaceId: string): Promise<void> {
    const pgid = this.agentGroups.get(workspaceId);
    this.agentGroups.delete(workspaceId);
    if (this.sandbox.mode === 'uid') {
      await this.sandbox.sweep(workspaceId);
    } else if (pgid !== undefined) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Stops the runtime and everything its agent started. */
  async stop(workspaceId: string): Promise<void> {
    await this.processes.get(workspaceId)?.stop();
    await this.sweep(workspaceId);
  }

  /** The workspace is gone: stop it and drop what it kept on this machine (its agent's directory). */
  async remove(workspaceId: string): Promise<void> {
    await this.stop(workspaceId);
    await this.sandbox.remove(workspaceId);
    this.processes.delete(workspaceId);
  }

  info(workspaceId: string): ProcessInfo | null {
    return this.processes.get(workspaceId)?.info() ?? null;
  }

  logs(workspaceId: string): string[] {
    return this.processes.get(workspaceId)?.logs() ?? [];
  }

  /** Exits of a runtime, after its agent was swept; `exit.expected` tells a stop from a crash. */
  onExit(listener: (workspaceId: string, exit: ProcessExit) => void): void {
    this.exitListeners.push(listener);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.processes.keys()].map((id) => this.stop(id)));
    this.sandbox.dispose();
  }
}

/** The CP's fallback: config.yaml's command (or legacy template.json's) under its WORKSPACE_TEMPLATES_DIR. */
export { templateCommand } from '../templates/config.js';
