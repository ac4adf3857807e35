import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A server under test as a real child process (`molecule-platform tenant` or `molecule-platform cp`), so the
 * benchmark measures what an operator runs: its own event loop, its own pg pool, its env parsed by the real launcher.
 */

export interface ServerProcess {
  child: ChildProcess;
  /** Resolves with the base URL once the server answers; rejects if it exits or stalls first. */
  ready: Promise<string>;
  /** Log lines at warn or above. The server runs at LOG_LEVEL=warn, so each of these is worth a look. */
  warnings: string[];
  /** The last lines the child wrote, for a failure message. */
  tail(): string;
  /** SIGTERM, then wait for exit; SIGKILL and throw when it does not exit in time. Idempotent. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export type TenantProcess = ServerProcess;

/** A port nobody listens on right now. The tiny race before the child binds it is acceptable for a benchmark. */
export async function freePort(host: string): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (typeof address !== 'object' || address === null) throw new Error('could not pick a free port');
  return address.port;
}

const PINO_WARN = 40;
const TAIL_LINES = 40;

export interface SpawnOptions {
  bin: string;
  env: Record<string, string>;
  host: string;
  port: number;
  readyTimeoutMs: number;
}

/** The launcher commands the benchmark runs, and how its messages name each. */
const SERVERS = { tenant: 'the tenant', cp: 'the control plane' } as const;

export function spawnTenant(opts: SpawnOptions): TenantProcess {
  return spawnServer('tenant', opts);
}

export function spawnControlPlane(opts: SpawnOptions): ServerProcess {
  return spawnServer('cp', opts);
}

function spawnServer(command: keyof typeof SERVERS, opts: SpawnOptions): ServerProcess {
  const what = SERVERS[command];
  const child = spawn(process.execPath, [opts.bin, command], { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const warnings: string[] = [];
  const lines: string[] = [];
  let listeningUrl: string | null = null;
  // Resolves on exit only; a spawn error also ends in 'exit' or leaves the process never started, which the
  // readiness deadline reports with the error text.
  let spawnError: Error | null = null;
  child.on('error', (err) => (spawnError = err));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (code, signal) => resolve([code, signal])));

  // Both streams must be drained for the whole run: a full pipe would block the server's writes mid-benchmark.
  const onLine = (line: string) => {
    lines.push(line);
    if (lines.length > TAIL_LINES) lines.shift();
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      // Not pino JSON (e.g. the launcher's own stderr message on a config error): keep it as a warning.
      warnings.push(line);
      return;
    }
    if (typeof entry !== 'object' || entry === null) return;
    const { msg, url, level } = entry as { msg?: unknown; url?: unknown; level?: unknown };
    if (msg === 'listening' && typeof url === 'string') listeningUrl = url;
    else if (typeof level === 'number' && level >= PINO_WARN) warnings.push(line);
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);

  const tail = () => lines.join('\n');

  const ready = (async () => {
    const deadline = Date.now() + opts.readyTimeoutMs;
    const healthUrl = `http://${opts.host}:${opts.port}/health`;
    let childGone = false;
    void exited.then(() => (childGone = true));
    // The "listening" line is the launcher's readiness signal, but pino drops it below LOG_LEVEL=info, and the
    // benchmark runs its servers at warn. So the line is taken when it comes, and /health on the port we chose is
    // polled alongside it: either proves the server accepts requests.
    while (Date.now() < deadline) {
      if (listeningUrl) return listeningUrl;
      if (spawnError) throw new Error(`could not start ${what}: ${(spawnError as Error).message}`);
      if (childGone) throw new Error(`${what} exited before it was ready (exit code ${child.exitCode}, signal ${child.signalCode}):\n${tail()}`);
      try {
        const res = await fetch(healthUrl, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) return `http://${opts.host}:${opts.port}`;
      } catch {
        // Not accepting connections yet.
      }
      await sleep(100);
    }
    throw new Error(`${what} was not ready within ${opts.readyTimeoutMs} ms:\n${tail()}`);
  })();

  let stopping: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
      if (child.pid === undefined) throw new Error(`${what} never started: ${spawnError ? (spawnError as Error).message : 'no pid'}`);
      child.kill('SIGTERM');
      // Both servers' SIGTERM path closes Fastify, flushes the audit write-behind and closes the pool; 15 s is
      // far more than that takes, so running out of it is a shutdown bug worth failing on.
      const timedOut = sleep(15_000).then(() => 'timeout' as const);
      const outcome = await Promise.race([exited, timedOut]);
      if (outcome === 'timeout') {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`${what} did not exit within 15 s of SIGTERM; killed:\n${tail()}`);
      }
      const [code, signal] = outcome;
      return { code, signal };
    })();
    return stopping;
  };

  return { child, ready, warnings, tail, stop };
}
