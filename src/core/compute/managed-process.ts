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
 */

export interface ProcessSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** How many recent output lines to keep (default 200). */
  logLines?: number;
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
      stdio: ['pipe', 'pipe', 'pipe'],
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
