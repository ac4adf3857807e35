import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { readRssBytes, type ProcessExit, type ProcessInfo } from './managed-process.js';

/**
 * Compute (DESIGN.md §2) for a long-lived service that must outlive its supervisor: a tenant server keeps serving
 * when the control plane that started it is killed, and the next control plane adopts it.
 *
 * Unlike ManagedProcess (workspace runtimes, which die with their tenant), the child
 * - runs in its own process group (`detached`), so a signal to the supervisor's group does not reach it;
 * - writes stdout and stderr to a log file (append), never to a pipe a dead supervisor would break;
 * - can be adopted by pid: a later supervisor checks the pid is still the same process (its environment names it),
 *   then watches it by polling — a non-child's exit is not delivered as an event.
 */

export interface DetachedSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** stdout + stderr are appended here. */
  logFile: string;
  /**
   * `NAME=value` that must be in the process's environment for a pid to count as this process when adopting
   * (guards against pid reuse).
   */
  identity: string;
}

const POLL_MS = 500;
const TAIL_BYTES = 64 * 1024;

/** A process's environment (`NAME=value` entries); empty when it is gone, a zombie, or not ours to read. */
export function environOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** True when `pid` is alive and its environment holds `identity` (`NAME=value`). */
export function isSameProcess(pid: number, identity: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // Zombie processes (exited, not yet reaped) have an empty environ: they are not alive for our purpose.
  return environOf(pid).includes(identity);
}

/** Signals the process group `pid` leads (a detached process), else the process alone; silent when it is gone. */
export function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/**
 * Stops a detached process this supervisor did not start (an earlier supervisor did): SIGTERM, SIGKILL after
 * `graceMs`, and waits until no process with that pid and identity is left.
 */
export async function stopByIdentity(pid: number, identity: string, graceMs = 10_000): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let killed = false;
  while (isSameProcess(pid, identity)) {
    if (!killed && Date.now() > deadline) {
      signalGroup(pid, 'SIGKILL');
      killed = true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The last `max` lines of a file (reads at most 64 KiB from its end). */
export function tailLines(file: string, max: number): string[] {
  let fd: number | undefined;
  try {
    const size = statSync(file).size;
    const length = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(length);
    fd = openSync(file, 'r');
    readSync(fd, buf, 0, length, size - length);
    const lines = buf.toString('utf8').split('\n').filter((l) => l.length > 0);
    if (size > length) lines.shift(); // the first line was cut
    return lines.slice(-max);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export declare interface DetachedProcess {
  on(event: 'exit', listener: (exit: ProcessExit) => void): this;
}

export class DetachedProcess extends EventEmitter {
  private pidValue: number | null = null;
  private startedAt: Date | null = null;
  private starts = 0;
  private lastExit: ProcessExit | null = null;
  private stopping = false;
  private poller: NodeJS.Timeout | null = null;
  private exited: Promise<void> = Promise.resolve();
  private resolveExited: (() => void) | null = null;

  constructor(private spec: DetachedSpec) {
    super();
  }

  get pid(): number | null {
    return this.pidValue;
  }

  get running(): boolean {
    return this.pidValue !== null;
  }

  /** Starts the process (optionally with a new spec). A running process is left alone. */
  start(spec?: DetachedSpec): void {
    if (spec) this.spec = spec;
    if (this.pidValue !== null) return;
    this.stopping = false;
    mkdirSync(path.dirname(this.spec.logFile), { recursive: true });
    const out = openSync(this.spec.logFile, 'a', 0o600);
    try {
      const child = spawn(this.spec.command, this.spec.args, {
        env: this.spec.env,
        cwd: this.spec.cwd,
        stdio: ['ignore', out, out],
        detached: true,
      });
      child.unref();
      this.starts += 1;
      this.startedAt = new Date();
      if (child.pid === undefined) {
        // spawn failed (ENOENT, EACCES): the error event follows; report it as an exit
        this.pidValue = null;
        child.once('error', (err) => this.finish({ code: null, signal: null, expected: false, at: new Date() }, err.message));
        return;
      }
      this.track(child.pid);
      // Our own child: its exit arrives as an event (and is reaped); polling covers adopted ones.
      child.once('exit', (code, signal) => this.finish({ code, signal, expected: this.stopping, at: new Date() }));
    } finally {
      closeSync(out);
    }
  }

  /**
   * Takes over a process a previous supervisor started. False (nothing adopted) when `pid` is gone or is not this
   * process any more.
   */
  adopt(pid: number, startedAt: Date | null): boolean {
    if (this.pidValue !== null) return this.pidValue === pid;
    if (!isSameProcess(pid, this.spec.identity)) return false;
    this.startedAt = startedAt ?? new Date();
    this.starts = Math.max(this.starts, 1);
    this.track(pid);
    this.poller = setInterval(() => {
      if (!isSameProcess(pid, this.spec.identity)) this.finish({ code: null, signal: null, expected: this.stopping, at: new Date() });
    }, POLL_MS);
    this.poller.unref();
    return true;
  }

  private track(pid: number) {
    this.pidValue = pid;
    this.exited = new Promise<void>((resolve) => {
      this.resolveExited = resolve;
    });
  }

  private finish(exit: ProcessExit, note?: string) {
    if (this.pidValue === null && this.resolveExited === null) return;
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    this.pidValue = null;
    this.lastExit = exit;
    if (note) this.lastExitNote = note;
    const resolve = this.resolveExited;
    this.resolveExited = null;
    resolve?.();
    this.emit('exit', exit);
  }

  /** Why the last start failed before the process ran (spawn error), if it did. */
  lastExitNote: string | null = null;

  /** SIGTERM to the process group, then SIGKILL after `graceMs`. Resolves once the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    const pid = this.pidValue;
    if (pid === null) return;
    this.stopping = true;
    signalGroup(pid, 'SIGTERM');
    const killer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(killer);
  }

  /** Stops watching without touching the process (it keeps running; a later supervisor adopts it). */
  release(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    this.removeAllListeners('exit');
  }

  logs(lines = 100): string[] {
    return existsSync(this.spec.logFile) ? tailLines(this.spec.logFile, lines) : [];
  }

  info(): ProcessInfo {
    const pid = this.pidValue;
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
