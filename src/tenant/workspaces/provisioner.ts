import type { AgentSandbox } from '../../core/compute/agent-sandbox.js';
import type { ProcessExit, ProcessInfo } from '../../core/compute/managed-process.js';
import { RuntimeLauncher, type RuntimeLaunch, type RuntimeLauncherLog } from '../../core/compute/runtime-launcher.js';

export type { RuntimeLaunch };

/**
 * Runs workspace runtimes. `local` spawns one OS process per workspace on this machine; a control-plane backend
 * (`cp`) asks the control plane to run it. Exits that were not asked for are reported through `onExit`.
 */
export interface WorkspaceProvisioner {
  readonly kind: string;
  /**
   * Starts (or, after stop, restarts) the runtime. A failure to start — thrown, or a rejected promise for a remote
   * backend — is reported to the caller, which marks the workspace failed with the message.
   */
  start(launch: RuntimeLaunch): void | Promise<void>;
  /** Stops the runtime and everything its agent started. */
  stop(workspaceId: string): Promise<void>;
  /** The workspace is gone: stop it and drop what it kept on this machine (its agent's directory). */
  remove(workspaceId: string): Promise<void>;
  info(workspaceId: string): ProcessInfo | null;
  logs(workspaceId: string): string[];
  onExit(listener: (workspaceId: string, exit: ProcessExit) => void): void;
  stopAll(): Promise<void>;
}

/**
 * One runtime process per workspace on this machine: the shared compute module (src/core/compute/runtime-launcher.ts)
 * with this tenant's org id on every launch.
 */
export class LocalProcessProvisioner extends RuntimeLauncher implements WorkspaceProvisioner {
  readonly kind = 'local';

  constructor(
    sandbox: AgentSandbox,
    log: RuntimeLauncherLog,
    /** The org this tenant serves: the agent needs it for the routing header of its own API calls. */
    private readonly orgId?: string | undefined,
  ) {
    super(sandbox, log);
  }

  override start(launch: RuntimeLaunch): void {
    super.start({ ...launch, orgId: launch.orgId ?? this.orgId });
  }
}
