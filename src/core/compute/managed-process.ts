import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';

/**
 * Compute (DESIGN.md §2): one real OS process, supervised. Used by the workspace provisioner (one runtime per
 * workspace) and, later, the tenant provisioner (one tenant per org).
 *
 * - The child's stdin is a pipe that the child watches: if this process dies, even by SIGKILL, the pipe closes
 *   and the child exits, so no orphan outlives its supervisor.
 * - An exit that `stop()` did not ask for is reported at once as `exit` with `expected: false`.
 * - The last `logLines` lines of stdout/stderr are kept in a ring for diagnostics.
 * - `control`, when given, is written as one JSON line to the child's fd 3 (a private socket, not its environment
 *   and not inherited by the child's own children); JSON lines the child writes back there are `control` events.
 */

export interface ProcessSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** How many recent output lines to keep (default 200). */
  logLines?: number;
  /** Sent to the child on fd 3 as one JSON line: what must not travel in its environment or argv. */
  control?: Record<string, unknown>;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the exit was asked for by stop()/restart(). */
  expected: boolean;
  at: Date;
}

export interface ProcessInfo {
  pid: number | null;
  running: boolean;
  startedAt: Date | null;
  uptimeSeconds: number;
  /** Resident set size in bytes, read from /proc where available. */
  rssBytes: number | null;
  /** Times the process was started again after its first start. */
  restarts: number;
  lastExit: ProcessExit | null;
}

const PAGE_SIZE = 4096;

export function readRssBytes(pid: number): number | null {
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
    return Number(statm[1]) * PAGE_SIZE;
  } catch {
    return null;
  }
}

export declare interface ManagedProcess {
  on(event: 'exit', listener: (exit: ProcessExit) => void): this;
  on(event: 'line', listener: (line: string) => void): this;
  on(event: 'control', listener: (message: Record<string, unknown>) => void): this;
}

export class ManagedProcess extends EventEmitter {
  private child: ChildProcess | null = null;
  private startedAt: Date | null = null;
  private starts = 0;
  private lastExit: ProcessExit | null = null;
  private stopping = false;
  private readonly ring: string[] = [];
  private exited: Promise<void> = Promise.resolve();

  constructor(private spec: ProcessSpec) {
    super();
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Starts the process (optionally with a new spec, e.g. a fresh environment). A running process is left alone. */
  start(spec?: ProcessSpec): void {
    if (spec) this.spec = spec;
    if (this.child) return;
    this.stopping = false;
    const child = spawn(this.spec.command, this.spec.args, {
      env: this.spec.env,
      cwd: this.spec.cwd,
      stdio: this.spec.control ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    this.startedAt = new Date();
    this.starts += 1;
    const keep = this.spec.logLines ?? 200;
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.length === 0) continue;
        this.ring.push(line);
        if (this.ring.length > keep) this.ring.shift();
        this.emit('line', line);
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.stdin?.on('error', () => undefined); // the child may exit before reading
    const control = this.spec.control ? (child.stdio[3] as NodeJS.ReadWriteStream | undefined) : undefined;
    if (control) {
      control.on('error', () => undefined);
      control.write(`${JSON.stringify(this.spec.control)}\n`);
      let pending = '';
      control.on('data', (chunk: Buffer | string) => {
        pending += chunk.toString();
        // Bounded: a child that never ends a line cannot grow this without limit.
        if (pending.length > 65536) pending = '';
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          try {
            const message: unknown = JSON.parse(line);
            if (message && typeof message === 'object' && !Array.isArray(message)) this.emit('control', message as Record<string, unknown>);
          } catch {
            // not a control message; ignored
          }
        }
      });
    }
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if (this.child === child) this.child = null;
        this.lastExit = { code, signal, expected: this.stopping, at: new Date() };
        resolve();
        this.emit('exit', this.lastExit);
      });
      child.once('error', (err) => {
        // spawn failure (e.g. ENOENT): no exit event follows
        if (this.child === child) this.child = null;
        this.ring.push(`spawn failed: ${err.message}`);
        this.lastExit = { code: null, signal: null, expected: false, at: new Date() };
        resolve();
        this.emit('exit', this.lastExit);
      });
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(killer);
  }

  async restart(spec?: ProcessSpec, graceMs?: number): Promise<void> {
    await this.stop(graceMs);
    this.start(spec);
  }

  logs(): string[] {
    return [...this.ring];
  }

  info(): ProcessInfo {
    const pid = this.pid;
    return {
      pid,
      running: pid !== null,
      startedAt: pid !== null ? this.startedAt : null,
      uptimeSeconds: pid !== null && this.startedAt ? Math.floor((Date.now() - this.startedAt.getTime()) / 1000) : 0,
      rssBytes: pid !== null ? readRssBytes(pid) : null,
      restarts: Math.max(0, this.starts - 1),
      lastExit: this.lastExit,
    };
  }
}
