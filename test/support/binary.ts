import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built launcher, as `npx molecule-platform` runs it. */
export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/bin/molecule-platform.js');

export interface Child {
  proc: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

export interface Spawned {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /** Resolves with the URL once the `{"msg":"listening","url":…}` line appears; rejects if the process exits first. */
  listening: (timeoutMs?: number) => Promise<string>;
  /** Resolves once a JSON log line with this `msg` appears. */
  logged: (msg: string, timeoutMs?: number) => Promise<void>;
}

/**
 * Spawns `molecule-platform <command>` on loopback with exactly the given environment: on a free port, unless `env`
 * names one (a restart that must come back where its tenants call it).
 */
export function spawnBinary(command: string, env: Record<string, string>): Spawned {
  const proc = spawn(process.execPath, [BIN, command], {
    env: { PATH: process.env['PATH'] ?? '', ...env, PORT: env['PORT'] ?? '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const entries = () =>
    out
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => {
        try {
          return JSON.parse(line) as { msg?: string; url?: string };
        } catch {
          return {};
        }
      });
  const waitFor = <T>(what: string, find: () => T | undefined, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.stdout!.off('data', check);
        reject(new Error(`no ${what} within ${timeoutMs / 1000} s:\n${out}`));
      }, timeoutMs);
      function check() {
        const found = find();
        if (found === undefined) return;
        clearTimeout(timer);
        proc.stdout!.off('data', check);
        resolve(found);
      }
      proc.stdout!.on('data', check);
      check();
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${code} before ${what}:\n${out}`));
      });
    });
  return {
    proc,
    output: () => out,
    exited,
    listening: (timeoutMs = 30_000) => waitFor('"listening" line', () => entries().find((e) => e.msg === 'listening' && e.url)?.url, timeoutMs),
    logged: (msg, timeoutMs = 30_000) => waitFor(`"${msg}" line`, () => (entries().some((e) => e.msg === msg) ? true : undefined), timeoutMs).then(() => undefined),
  };
}

/**
 * Spawns `molecule-platform <command>` on a free loopback port with exactly the given environment and resolves
 * with its URL once it prints the `{"msg":"listening","url":…}` line.
 */
export async function startBinary(command: string, env: Record<string, string>): Promise<Child> {
  const spawned = spawnBinary(command, env);
  let url: string;
  try {
    url = await spawned.listening();
  } catch (err) {
    // Not left running when the test gives up on it (a slow boot on a loaded machine): nothing would stop it later.
    if (spawned.proc.exitCode === null && spawned.proc.signalCode === null) spawned.proc.kill('SIGKILL');
    throw err;
  }
  return { proc: spawned.proc, url, output: spawned.output, exited: spawned.exited };
}

/** True while a process with this pid exists (signal 0 only checks). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `molecule-platform up` (what `npm start` runs), started and read up to its banner. */
export interface StartedUp {
  proc: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  out: () => string;
  /** What it printed up to and including the banner. */
  banner: string;
  exited: Promise<number | null>;
  /** A labelled field of the banner, e.g. `field('Org id')`. */
  field: (label: string) => string;
}

/**
 * Spawns `up` on `dataDir` and waits for "Stop with Ctrl-C." — generously: a first start runs initdb for the
 * embedded PostgreSQL server, which takes seconds on a loaded machine. An exit before the banner fails with the output.
 */
export async function startUp(dataDir: string, extraEnv: Record<string, string> = {}): Promise<StartedUp> {
  const proc = spawn(process.execPath, [BIN, 'up'], {
    env: { PATH: process.env['PATH'] ?? '', MOLECULE_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
  const banner = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner within 120 s:\n${out}`)), 120_000);
    proc.stdout!.on('data', () => {
      if (out.includes('Stop with Ctrl-C.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}:\n${out}`));
    });
  });
  try {
    await banner;
  } catch (err) {
    // Given up on: Ctrl-C, so it stops what it started so far (server, CP, tenants); -9 only if that hangs.
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGINT');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 60_000)))]);
      clearTimeout(timer);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    throw err;
  }
  const printed = out;
  return { proc, out: () => out, banner: printed, exited, field: (label) => new RegExp(`${label}\\s+(\\S+)`).exec(printed)?.[1] ?? '' };
}
