import type { IncomingMessage } from 'node:http';
import { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Type } from 'typebox';
import { WebSocketServer, type WebSocket } from 'ws';
import { canSeeWorkspace } from '../../core/auth/principal.js';
import { DomainError } from '../../core/errors.js';
import type { App } from '../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../core/http/responses.js';
import { auditEventFor } from '../../core/audit/request.js';
import { refuseCrossSiteSession, type TenantOrigins } from '../auth/origin.js';
import type { TenantContext } from '../context.js';
import { WorkspaceId } from '../workspaces/schemas.js';
import { EventStream, SSE_SETTINGS, type EventFrameData } from './sse.js';

/**
 * GET /ws: the live events as WebSocket messages (reference §7), authenticated, limited and filtered exactly as the
 * SSE streams are (stream-registry.ts): the same credentials, the same per-credential and per-server slots, the same
 * re-verification — a revoked credential or a removed workspace closes the socket. Unlike the reference, a client
 * with no credential gets nothing (401), not every event of the org.
 *
 * Upgrades go through Fastify's routing (as @fastify/websocket does): TenantGuard, the route's validation and the
 * handler's authentication all run first; a refusal is an ordinary HTTP answer on the socket, never an upgrade.
 */

/** The socket and head of an upgrade request, until its handler takes them. */
const pendingUpgrades = new WeakMap<IncomingMessage, { socket: Duplex; head: Buffer }>();

/** A message: the reference's `{event, workspace_id, timestamp (RFC 3339), payload}`, plus the event's `id`. */
export interface WsEventMessage {
  id: number | null;
  event: string;
  workspace_id: string | null;
  timestamp: string;
  payload: Record<string, unknown>;
}

/** Close codes: 1001 server going away; 4401 credential no longer valid; 4404 workspace removed; 4503 could not be re-verified; 4429 slow consumer. */
const CLOSE_CODES: Record<string, number> = { credential_invalid: 4401, workspace_removed: 4404, verification_unavailable: 4503, overflow: 4429 };

/** Turns the SSE frames an EventStream produces into WebSocket messages (comments are dropped). */
export function messagesOfFrames(text: string): Array<{ kind: 'event'; message: WsEventMessage } | { kind: 'closed' | 'overflow'; data: Record<string, unknown> }> {
  const out: Array<{ kind: 'event'; message: WsEventMessage } | { kind: 'closed' | 'overflow'; data: Record<string, unknown> }> = [];
  for (const frame of text.split('\n\n')) {
    const lines = frame.split('\n');
    const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
    const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
    if (!event || data === undefined) continue;
    const parsed = JSON.parse(data) as Record<string, unknown>;
    if (event === 'closed' || event === 'overflow') out.push({ kind: event, data: parsed });
    else {
      const f = parsed as unknown as EventFrameData;
      out.push({ kind: 'event', message: { id: f.id, event: f.type, workspace_id: f.workspace_id, timestamp: new Date(f.timestamp).toISOString(), payload: f.data } });
    }
  }
  return out;
}

/**
 * Sends upgrade requests through Fastify's routing; call once, before the server listens. An upgrade socket has left
 * the HTTP server's keep-alive bookkeeping, so a refused one is ended here once its answer is written (a client that
 * keeps it open must not hold the server's shutdown), and any still waiting at shutdown is destroyed.
 */
export function routeWebSocketUpgrades(app: App): void {
  const waiting = new Set<Duplex>();
  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    pendingUpgrades.set(request, { socket, head });
    waiting.add(socket);
    socket.once('close', () => waiting.delete(socket));
    const response = new ServerResponse(request);
    // Refused (the handler never took the socket): answered, then the connection ends.
    response.once('finish', () => {
      if (pendingUpgrades.get(request)?.socket !== socket) return;
      pendingUpgrades.delete(request);
      waiting.delete(socket);
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    });
    try {
      response.assignSocket(socket as never);
      app.routing(request, response);
    } catch {
      socket.destroy();
    }
  });
  app.addHook('preClose', async () => {
    for (const socket of waiting) if (!takenSockets.has(socket)) socket.destroy();
  });
}

/** Sockets a handler upgraded (the WebSocket server owns them from then on). */
const takenSockets = new WeakSet<Duplex>();

export function webSocketEventsRoute(origins: TenantOrigins) {
  return function register(app: App, ctx: TenantContext) {
    const wss = new WebSocketServer({ noServer: true, maxPayload: 4096, clientTracking: true });
    // Shutdown: every socket is told (1001) and given a moment to answer the close handshake, then cut.
    app.addHook('preClose', async () => {
      const clients = [...wss.clients];
      for (const client of clients) client.close(1001, 'server shutting down');
      const deadline = Date.now() + 1000;
      while (clients.some((c) => c.readyState !== c.CLOSED) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const client of clients) client.terminate();
    });
    app.addHook('onClose', async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
    });
    app.get(
      '/ws',
      {
        exposeHeadRoute: false,
        schema: {
          operationId: 'eventsWebSocket',
          tags: ['events'],
          summary: 'Live events over a WebSocket',
          description:
            'Upgrade with the credentials of the SSE streams. With `X-Workspace-ID` (or `?workspace_id=`): that workspace’s events, for the admin chain or that workspace’s own token; without: every workspace’s events, for the admin chain (a workspace-bound key must name a workspace). ' +
            'Each message is `{"id","event","workspace_id","timestamp","payload"}`. The same slots as the event streams (429 STREAM_LIMIT); the socket closes with 4401 when its credential is revoked, 4404 when its workspace is removed, 4503 when it cannot be re-verified, 4429 for a consumer too slow, 1001 at shutdown. Inbound messages are ignored. A request that is not an upgrade → 426.',
          security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
          querystring: Type.Object({ workspace_id: Type.Optional(WorkspaceId) }),
          headers: Type.Object({ 'x-workspace-id': Type.Optional(WorkspaceId) }),
          response: {
            101: { description: 'Switching to the WebSocket protocol.' },
            ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_ADMIN_AUTH', 'INVALID_WORKSPACE_AUTH', 'SCOPE_EXCEEDED', 'WORKSPACE_NOT_FOUND', 'STREAM_LIMIT', 'UPGRADE_REQUIRED'),
          },
        },
      },
      async (request, reply) => {
        const workspaceId = (request.headers['x-workspace-id'] ?? request.query.workspace_id)?.toLowerCase() ?? null;
        const authorization = request.headers.authorization;
        const cookie = request.headers.cookie;
        const principal =
          workspaceId === null ? await ctx.auth.authenticateAdmin(authorization, cookie) : await ctx.auth.authenticateWorkspace(workspaceId, authorization, cookie);
        request.principal = principal;
        // A WebSocket handshake is a GET, which the session origin check lets through; a cross-site page must not
        // open a socket on a member's cookie, so the check runs here as for a write.
        if (principal.class === 'session') refuseCrossSiteSession({ ...request, method: 'POST' } as typeof request, principal, origins);
        if (principal.workspaceIds !== null) {
          if (workspaceId === null) throw new DomainError('SCOPE_EXCEEDED');
          if (!canSeeWorkspace(principal, workspaceId)) throw new DomainError('WORKSPACE_NOT_FOUND');
        }
        if (workspaceId !== null && !(await ctx.db.selectFrom('workspaces').select('id').where('id', '=', workspaceId).where('status', '<>', 'removed').executeTakeFirst())) {
          throw new DomainError('WORKSPACE_NOT_FOUND');
        }
        const upgrade = pendingUpgrades.get(request.raw);
        if (!upgrade || (request.headers.upgrade ?? '').toLowerCase() !== 'websocket') throw new DomainError('UPGRADE_REQUIRED');
        let entry: ReturnType<typeof ctx.streams.admit>;
        try {
          entry = ctx.streams.admit(principal, { workspaceId, cookie });
        } catch (err) {
          if (err instanceof DomainError && err.code === 'STREAM_LIMIT') reply.header('retry-after', String(SSE_SETTINGS.retryAfterSeconds));
          throw err;
        }
        try {
          await ctx.auditWriter.enqueue(auditEventFor(request, 101, reply.elapsedTime));
        } catch (err) {
          ctx.streams.release(entry);
          throw err;
        }
        request.auditWritten = true;
        pendingUpgrades.delete(request.raw);
        takenSockets.add(upgrade.socket);
        reply.hijack();
        wss.handleUpgrade(request.raw, upgrade.socket, upgrade.head, (socket: WebSocket) => {
          const stream = new EventStream({ bus: ctx.events, workspaceId, lastEventId: null, log: request.log, maxPendingBytes: ctx.config.EVENT_STREAM_BUFFER_BYTES });
          ctx.streams.attach(entry, stream);
          let closing = false;
          const closeWith = (code: number, reason: string) => {
            if (closing) return;
            closing = true;
            socket.close(code, reason);
            // A client that does not answer the close handshake is not waited for.
            setTimeout(() => socket.terminate(), 2000).unref();
          };
          stream.on('data', (chunk: Buffer | string) => {
            for (const m of messagesOfFrames(chunk.toString())) {
              if (m.kind === 'event') socket.send(JSON.stringify(m.message));
              else closeWith(CLOSE_CODES[m.kind === 'closed' ? String(m.data['reason']) : 'overflow'] ?? 4503, m.kind === 'closed' ? String(m.data['reason']) : 'overflow');
            }
            // Backpressure: a socket not draining stops the stream, whose bounded outbox then ends it with overflow.
            if (socket.bufferedAmount > ctx.config.EVENT_STREAM_BUFFER_BYTES) stream.pause();
          });
          const resume = setInterval(() => {
            if (stream.isPaused() && socket.bufferedAmount <= ctx.config.EVENT_STREAM_BUFFER_BYTES / 2) stream.resume();
          }, 250);
          resume.unref();
          stream.on('end', () => closeWith(1001, 'stream ended'));
          stream.on('error', () => closeWith(1011, 'stream failed'));
          // Inbound messages are ignored (reference §7); a client going away ends its stream and frees its slot.
          socket.on('close', () => {
            clearInterval(resume);
            stream.destroy();
            ctx.streams.release(entry);
          });
          socket.on('error', () => socket.terminate());
        });
        return reply;
      },
    );
  };
}
