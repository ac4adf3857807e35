import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { AgentLaunch } from '../core/compute/agent-sandbox.js';
import { env, parseEnv } from '../core/config.js';

/**
 * The workspace runtime: one process per workspace, started by the tenant's provisioner. It registers, heartbeats,
 * and runs the workspace's agent command when there is one, reporting the command's exit. It exits when the tenant
 * goes away (its stdin closes), when its token stops working (the workspace was removed), or on SIGTERM.
 *
 * The runtime itself never holds the workspace's secrets: the tenant hands the agent's launch (argv, environment,
 * directory — already wrapped in the sandbox) over a private socket on fd 3, and only the agent gets them. The agent
 * runs in its own process group; stopping the runtime stops the whole group (SIGTERM, then SIGKILL).
 */
export const runtimeEnvSchema = {
  WORKSPACE_ID: env.uuid('The workspace this runtime serves.'),
  PLATFORM_URL: env.url('The tenant server base URL.'),
  MOLECULE_WORKSPACE_TOKEN: env.required('This workspace’s own token (molw_…).'),
  HEARTBEAT_INTERVAL_SECONDS: env.int('Seconds between heartbeats.', 5, 1, 600),
  RUNTIME_COMMAND: env.string('Shell command to run as the agent when started by hand (a tenant passes its launch on MOLECULE_LAUNCH_FD instead).'),
  MOLECULE_WATCH_STDIN: env.oneOf('Exit when stdin closes (set by the provisioner).', ['0', '1'] as const, '0'),
  MOLECULE_LAUNCH_FD: env.int('File descriptor carrying the agent launch from the tenant (set by the provisioner).', 0, 0, 1024),
};

/** How long the agent's process group gets between SIGTERM and SIGKILL; below the tenant's grace for the runtime. */
const AGENT_GRACE_MS = 2000;

/** One JSON line from the tenant on `fd`; the socket stays open for reports back. */
function readLaunch(fd: number): Promise<{ socket: net.Socket; agent: AgentLaunch | null }> {
  return new Promise((resolve, reject) => {
    const socket = new net.Socket({ fd, readable: true, writable: true });
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      socket.off('data', onData);
      socket.pause();
      try {
        const parsed = JSON.parse(buf.slice(0, nl)) as { agent?: AgentLaunch | null };
        resolve({ socket, agent: parsed.agent ?? null });
      } catch (err) {
        reject(err as Error);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('end', () => reject(new Error('the tenant closed the launch channel before sending the launch')));
  });
}

export async function runWorkspaceRuntime(source: Record<string, string | undefined> = process.env): Promise<number> {
  const config = parseEnv(runtimeEnvSchema, source);
  if (!config.WORKSPACE_ID || !config.PLATFORM_URL) throw new Error('WORKSPACE_ID and PLATFORM_URL are required');
  const workspaceId = config.WORKSPACE_ID;
  const base = config.PLATFORM_URL;
  const headers = { authorization: `Bearer ${config.MOLECULE_WORKSPACE_TOKEN}`, 'content-type': 'application/json' };
  const started = Date.now();
  let command: ChildProcess | null = null;
  let commandExited: Promise<void> = Promise.resolve();
  let finished = false;
  let agent: AgentLaunch | null = config.RUNTIME_COMMAND ? { argv: ['/bin/sh', '-c', config.RUNTIME_COMMAND], env: { ...process.env } as Record<string, string>, cwd: process.cwd() } : null;
  let channel: net.Socket | null = null;
  if (config.MOLECULE_LAUNCH_FD > 0) {
    const launch = await readLaunch(config.MOLECULE_LAUNCH_FD);
    agent = launch.agent;
    channel = launch.socket;
    channel.on('error', () => undefined);
  }

  const log = (msg: string, extra: Record<string, unknown> = {}) =>
    process.stdout.write(JSON.stringify({ time: new Date().toISOString(), service: 'molecule-runtime', workspace_id: workspaceId, msg, ...extra }) + '\n');

  return new Promise<number>((resolve) => {
    /** The agent's whole process group: SIGTERM, SIGKILL after the grace (or at once when the shell is gone). */
    const stopAgent = async () => {
      const pid = command?.pid;
      if (!pid) return;
      const signalGroup = (signal: NodeJS.Signals) => {
        try {
          process.kill(-pid, signal);
        } catch {
          // the group is already empty
        }
      };
      signalGroup('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([commandExited, new Promise((r) => (timer = setTimeout(r, AGENT_GRACE_MS)))]);
      clearTimeout(timer);
      // Whatever the shell left behind in its group (background jobs that ignore SIGTERM) goes too.
      signalGroup('SIGKILL');
    };

    const finish = (code: number, reason: string) => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      log('runtime exiting', { code, reason });
      void stopAgent().then(() => {
        channel?.destroy();
        resolve(code);
      });
    };

    const post = async (path: string, body: Record<string, unknown>): Promise<number> => {
      try {
        const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
        await res.body?.cancel();
        return res.status;
      } catch (err) {
        log('platform unreachable', { path, error: (err as Error).message });
        return 0;
      }
    };

    const heartbeat = async (extra: Record<string, unknown> = {}) => {
      const status = await post('/registry/heartbeat', {
        workspace_id: workspaceId,
        uptime_seconds: Math.floor((Date.now() - started) / 1000),
        active_tasks: 0,
        error_rate: 0,
        ...extra,
      });
      // 401/404: the token was revoked or the workspace removed — nothing left to serve.
      if (status === 401 || status === 404) finish(0, `heartbeat answered ${status}`);
    };

    const timer = setInterval(() => void heartbeat(), config.HEARTBEAT_INTERVAL_SECONDS * 1000);

    process.once('SIGTERM', () => finish(0, 'SIGTERM'));
    process.once('SIGINT', () => finish(0, 'SIGINT'));
    if (config.MOLECULE_WATCH_STDIN === '1') {
      process.stdin.on('end', () => finish(0, 'supervisor gone'));
      process.stdin.on('error', () => finish(0, 'supervisor gone'));
      process.stdin.resume();
    }

    void (async () => {
      // The tenant may be briefly unreachable (restarting); keep trying until it answers. A 401/404 is final.
      for (let attempt = 0; !finished; attempt++) {
        const status = await post('/registry/register', { id: workspaceId, agent_card: { name: `workspace ${workspaceId}`, runtime: 'molecule-runtime' } });
        if (status === 200) break;
        if (status === 401 || status === 404 || status === 400) {
          finish(1, `register answered ${status}`);
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
      }
      if (finished) return;
      log('registered');
      if (!agent) {
        log('no agent command');
        return;
      }
      const [file, ...args] = agent.argv;
      if (!file) throw new Error('empty agent argv');
      // detached: a new session, so the agent and everything it forks form one process group we can stop together.
      const child = spawn(file, args, { env: agent.env, cwd: agent.cwd, detached: true, stdio: ['ignore', 'inherit', 'inherit'] });
      command = child;
      commandExited = new Promise<void>((r) => {
        child.once('exit', () => r());
        child.once('error', () => r());
      });
      if (child.pid) {
        log('agent command started', { pid: child.pid });
        channel?.write(`${JSON.stringify({ agent_pgid: child.pid })}\n`);
      }
      child.once('error', (err) => {
        if (finished) return;
        log('agent command could not start', { error: err.message });
        finish(1, 'agent command could not start');
      });
      child.once('exit', (code, signal) => {
        if (finished) return;
        log('command exited', { code, signal });
        void heartbeat({ runtime_state: 'command_exited', sample_error: `command exited with ${signal ?? code}` }).then(() =>
          finish(code ?? 1, 'command exited'),
        );
      });
    })();
  });
}
