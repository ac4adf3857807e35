import type { Logger } from 'pino';
import type { App } from './app.js';

/**
 * Listens and announces the one `{"msg":"listening","url":…}` line supervisors wait for — printed even when
 * LOG_LEVEL hides info (Fastify's own announcement goes through info). Returns the URL actually bound (PORT=0 picks
 * a free port).
 */
export async function listenAndAnnounce(app: App, logger: Logger, opts: { port: number; host: string; logLevel: string }): Promise<string> {
  await app.listen({ port: opts.port, host: opts.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  if (!logger.isLevelEnabled('info') && opts.logLevel !== 'silent') logger.child({}, { level: 'info' }).info({ url }, 'listening');
  return url;
}
