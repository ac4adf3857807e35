import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { env, type EnvOf } from '../config.js';
import { ERROR_CODES, errorBody, type ErrorCode } from '../errors.js';
import { ulid } from '../ids.js';

/**
 * How long a connection may take, set in this one place for both services (issue 8, item 4). Node's defaults
 * leave a request whose body never finishes open forever (`requestTimeout` 0 under Fastify), and check the timeouts
 * only every 30 s.
 *
 * - `requestTimeoutMs`: the whole request — headers and body — must arrive within this; else 408 and the
 *   connection is closed. It stops counting once the request has arrived, so a long response (an SSE stream, an
 *   NDJSON export) is not cut: streams send their own heartbeats to keep proxies from timing them out.
 * - `headersTimeoutMs`: the header block must arrive within this (never longer than the request timeout).
 * - `keepAliveTimeoutMs`: an idle keep-alive connection is closed after this. Longer than the 60 s idle timeout of
 *   common load balancers, so a balancer never sends a request on a connection the server is closing.
 */
export interface ConnectionLimits {
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 72_000 };

/** The environment variables both binaries accept for the limits (spread into each env schema). */
export const connectionEnvSchema = {
  HTTP_REQUEST_TIMEOUT_SECONDS: env.int(
    'A request (headers and body) not received within this is answered 408 and its connection closed; streams are exempt once the request has arrived.',
    DEFAULT_CONNECTION_LIMITS.requestTimeoutMs / 1000,
    1,
    3600,
  ),
  HTTP_HEADERS_TIMEOUT_SECONDS: env.int(
    'Request headers not received within this → 408 (capped at HTTP_REQUEST_TIMEOUT_SECONDS).',
    DEFAULT_CONNECTION_LIMITS.headersTimeoutMs / 1000,
    1,
    3600,
  ),
  HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: env.int(
    'An idle keep-alive connection is closed after this (keep it above your load balancer’s idle timeout).',
    DEFAULT_CONNECTION_LIMITS.keepAliveTimeoutMs / 1000,
    1,
    3600,
  ),
};

/** The limits a parsed configuration asks for (a field a hand-built test config leaves out keeps its default). */
export function connectionLimitsOf(config: Partial<EnvOf<typeof connectionEnvSchema>>): ConnectionLimits {
  const ms = (seconds: number | undefined, fallback: number) => (seconds === undefined ? fallback : seconds * 1000);
  return {
    requestTimeoutMs: ms(config.HTTP_REQUEST_TIMEOUT_SECONDS, DEFAULT_CONNECTION_LIMITS.requestTimeoutMs),
    headersTimeoutMs: ms(config.HTTP_HEADERS_TIMEOUT_SECONDS, DEFAULT_CONNECTION_LIMITS.headersTimeoutMs),
    keepAliveTimeoutMs: ms(config.HTTP_KEEP_ALIVE_TIMEOUT_SECONDS, DEFAULT_CONNECTION_LIMITS.keepAliveTimeoutMs),
  };
}

/** The Fastify options that apply the limits (and answer the server's own refusals in the one error body). */
export function connectionOptions(limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS) {
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return {
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node looks for expired requests this often (default 30 s, which would let a stalled body live 30 s past
      // its timeout). A quarter of the shortest timeout, between 250 ms and 1 s: a walk over the open connections.
      connectionsCheckingInterval: Math.max(250, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
    clientErrorHandler,
  };
}

/** What Node's HTTP parser reports, as our error codes. */
function refusalFor(err: { code?: string }): { code: ErrorCode; message?: string } {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'REQUEST_TIMEOUT' };
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'HEADERS_TOO_LARGE' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { code: 'PAYLOAD_TOO_LARGE' };
    default:
      return { code: 'VALIDATION_FAILED', message: 'malformed HTTP request' };
  }
}

/**
 * Errors Node raises on a connection before (or instead of) a request reaching Fastify: a request or header block
 * that timed out, headers (or a URL) over the size limit, bytes that are not HTTP. Answered in the one error body
 * with a fresh request id, then the connection is closed — the stream cannot be trusted to be in step any more.
 */
function clientErrorHandler(this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { code, message } = refusalFor(err);
  const requestId = `req_${ulid()}`;
  this.log.info({ err: { message: err.message, code: err.code }, request_id: requestId, remote: socket.remoteAddress }, `connection refused: ${code}`);
  // A response already under way on this socket cannot be replaced by another one: just close.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const status = ERROR_CODES[code].status;
  const body = JSON.stringify(errorBody(code, requestId, message));
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    `x-request-id: ${requestId}`,
    'x-content-type-options: nosniff',
    'cache-control: no-store',
    'connection: close',
  ].join('\r\n');
  // end() flushes the answer before closing; destroy once it is out (or at once, should the peer be gone).
  socket.end(`${head}\r\n\r\n${body}`, () => socket.destroy());
  socket.once('error', () => socket.destroy());
  setTimeout(() => socket.destroy(), 5000).unref();
}
