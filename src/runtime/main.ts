import { spawn, type ChildProcess } from 'node:child_process';
import { env, parseEnv } from '../core/config.js';

/**
 * The workspace runtime: one process per workspace, started by the tenant's provisioner with the workspace's
 * secrets in its environment. It registers, heartbeats, and runs the template's command when one is configured,
 * reporting the command's exit. It exits when the tenant goes away (its stdin closes), when its token stops
 * working (the workspace was removed), or on SIGTERM.
 */
export const runtimeEnvSchema = {
  WORKSPACE_ID: env.uuid('The workspace this runtime serves.'),
  PLATFORM_URL: env.url('The tenant server base URL.'),
  MOLECULE_WORKSPACE_TOKEN: env.required('This workspace’s own token (molw_…).'),
  HEARTBEAT_INTERVAL_SECONDS: env.int('Seconds between heartbeats.', 5, 1, 600),
  RUNTIME_COMMAND: env.string('Shell command of the workspace template, run as the agent; its exit is reported.'),
  MOLECULE_WATCH_STDIN: env.oneOf('Exit when stdin closes (set by the provisioner).', ['0', '1'] as const, '0'),
};

export async function runWorkspaceRuntime(source: Record<string, string | undefined> = process.env): Promise<number> {
  const config = parseEnv(runtimeEnvSchema, source);
  if (!config.WORKSPACE_ID || !config.PLATFORM_URL) throw new Error('WORKSPACE_ID and PLATFORM_URL are required');
  const workspaceId = config.WORKSPACE_ID;
  const base = config.PLATFORM_URL;
  const headers = { authorization: `Bearer ${config.MOLECULE_WORKSPACE_TOKEN}`, 'content-type': 'application/json' };
  const started = Date.now();
  let command: ChildProcess | null = null;
  let finished = false;

  const log = (msg: string, extra: Record<string, unknown> = {}) =>
    process.stdout.write(JSON.stringify({ time: new Date().toISOString(), service: 'molecule-runtime', workspace_id: workspaceId, msg, ...extra }) + '\n');

  return new Promise<number>((resolve) => {
    const finish = (code: number, reason: string) => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      log('runtime exiting', { code, reason });
      if (command && command.exitCode === null) command.kill('SIGTERM');
      resolve(code);
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
      if (config.RUNTIME_COMMAND) {
        command = spawn('/bin/sh', ['-c', config.RUNTIME_COMMAND], { env: process.env, stdio: ['ignore', 'inherit', 'inherit'] });
        command.once('exit', (code, signal) => {
          if (finished) return;
          log('command exited', { code, signal });
          void heartbeat({ runtime_state: 'command_exited', sample_error: `command exited with ${signal ?? code}` }).then(() =>
            finish(code ?? 1, 'command exited'),
          );
        });
      }
    })();
  });
}
