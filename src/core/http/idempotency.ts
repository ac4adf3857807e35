import { randomBytes } from 'node:crypto';
import { Transform, pipeline, type Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { DomainError } from '../errors.js';
import type { App } from './app.js';
import { readCookie } from './cookies.js';
import {
  decodeResponse,
  deriveIdempotencySecrets,
  encodeResponse,
  openResponse,
  sameFingerprint,
  sealResponse,
  type IdempotencySecrets,
} from './idempotency-crypto.js';
import type { IdempotencyStore, NewIdempotencyRecord } from './idempotency-store.js';

/**
 * `Idempotency-Key` on every POST of both services (issue 13), with Stripe's semantics where the issue is silent:
 *
 * - A POST carrying the header (1–255 printable ASCII characters, else 400) is recorded "in flight" before its handler
 *   runs; its final status, the headers that matter and its body are stored when it answers. The same key again —
 *   same caller, method, URL and body — within 24 h gets that response replayed byte for byte with
 *   `Idempotent-Replayed: true`, and the handler does not run (nothing is done twice, no second audit row).
 * - Same key, other request → 422 IDEMPOTENCY_KEY_REUSED. Same key while the first is still running → 409
 *   IDEMPOTENCY_KEY_IN_USE with Retry-After: 1. An in-flight row older than a minute (its process died) is taken over.
 * - Outcomes a retry should run again are not kept: 5xx, 429 (a rate limit is about the moment, not the request),
 *   streams and bodies over 1 MiB. Requests refused before the handler (authentication, TenantGuard, validation) are
 *   never recorded, so a 401 for a bad credential is stored nowhere.
 * - Keys are scoped by the presented credential (or "anonymous"), method and URL: another caller's same key is just
 *   another key. Nothing plaintext is stored (idempotency-crypto.ts; SECURITY.md).
 *
 * Without the header, nothing changes. The hooks are attached to each auth tier's scope (`attach`), where routes are
 * mounted: they run after the tier's authentication and the schema's validation, before the handler.
 */

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
/** Stored responses are replayed for this long after the first request (Stripe: 24 h). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** An in-flight row this old belongs to a process that died: another attempt may take it over. */
export const IDEMPOTENCY_STALE_IN_FLIGHT_MS = 60 * 1000;
/** Larger responses are not stored (the key is released). */
export const IDEMPOTENCY_MAX_STORED_BYTES = 1024 * 1024;
/** Expired rows are purged on write, at most this often per process. */
const PURGE_INTERVAL_MS = 60 * 1000;
const KEY_RE = /^[\x20-\x7e]{1,255}$/;
const KEY_MESSAGE = 'Idempotency-Key header must be 1–255 printable ASCII characters';
/** The response headers a replay must carry: what the client reads besides the body. */
const STORED_HEADERS = ['content-type', 'location', 'retry-after', 'set-cookie'] as const;

/** The header as documented on every POST operation of both OpenAPI documents. */
export const IdempotencyKeyHeaderSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  pattern: '^[\\x20-\\x7e]+$',
  'x-error': 'must be 1–255 printable ASCII characters',
  description: 'Optional. Makes a retry safe: the same key again (same credential, method, URL and body) within 24 h replays the first answer without running it twice (see the API description).',
} as const;

export const IDEMPOTENCY_DESCRIPTION =
  ' Every POST honours an optional `Idempotency-Key` header (1–255 printable ASCII characters): a retry with the same key, credential, method, URL and body within 24 h replays the first response (header `Idempotent-Replayed: true`) without running it again; the same key with a different request is 422 `IDEMPOTENCY_KEY_REUSED`; a key whose first request is still running is 409 `IDEMPOTENCY_KEY_IN_USE` with `Retry-After`. 5xx and 429 answers are not kept.';

interface Held {
  secrets: IdempotencySecrets;
  lockToken: string;
}

export interface IdempotencyOptions {
  store: IdempotencyStore;
  log: Logger;
  /** The clock (tests move it). */
  now?: () => Date;
}

/**
 * The credential material the caller presented, as one string: the Authorization header, the session cookie and the
 * tenant admin token header (the CP's provisioning tier). Null when none: the request is anonymous.
 */
export function presentedCredential(request: FastifyRequest): string | null {
  const parts: string[] = [];
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string' && authorization !== '') parts.push(`authorization=${authorization}`);
  const session = readCookie(request.headers.cookie, 'mcp_session');
  if (session) parts.push(`session=${session}`);
  const adminToken = request.headers['x-molecule-admin-token'];
  if (typeof adminToken === 'string' && adminToken !== '') parts.push(`admin-token=${adminToken}`);
  return parts.length > 0 ? parts.join('\n') : null;
}

export class Idempotency {
  private readonly store: IdempotencyStore;
  private readonly log: Logger;
  private readonly now: () => Date;
  /** The raw body bytes of each keyed POST, collected as Fastify reads them. */
  private readonly bodies = new WeakMap<FastifyRequest, Buffer[]>();
  /** The row each keyed request holds while its handler runs. */
  private readonly held = new WeakMap<FastifyRequest, Held>();
  private lastPurge = 0;

  constructor(opts: IdempotencyOptions) {
    this.store = opts.store;
    this.log = opts.log;
    this.now = opts.now ?? (() => new Date());
  }

  /** Attaches the hooks to one scope (an auth tier); call before its routes are registered. */
  attach(scope: App): void {
    scope.addHook('onRoute', (route) => {
      if (![route.method].flat().includes('POST')) return;
      // Documented (and validated) as an optional header on every POST operation. Mutated in place: the route catalog
      // holds this very schema object.
      route.schema ??= {};
      const headers = (route.schema.headers ?? { type: 'object', properties: {} }) as { properties?: Record<string, unknown> };
      headers.properties = { ...(headers.properties ?? {}), [IDEMPOTENCY_HEADER]: IdempotencyKeyHeaderSchema };
      route.schema.headers = headers;
    });
    scope.addHook('preParsing', async (request, _reply, payload) => this.collectBody(request, payload));
    scope.addHook('preHandler', async (request, reply) => this.beforeHandler(request, reply));
    scope.addHook('onSend', async (request, reply, payload) => this.onSend(request, reply, payload));
    // Finished without passing onSend (a hijacked reply): nothing was stored, the key is free again. A client that hangs
    // up mid-request releases nothing: the handler still runs to its answer, which onSend stores for the retry.
    scope.addHook('onResponse', async (request) => this.releaseIfHeld(request));
  }

  private collectBody(request: FastifyRequest, payload: Readable): Readable {
    if (request.method !== 'POST' || request.headers[IDEMPOTENCY_HEADER] === undefined) return payload;
    const chunks: Buffer[] = [];
    this.bodies.set(request, chunks);
    const tee = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
        done(null, chunk);
      },
    });
    // Errors (an aborted upload) reach Fastify's body reader through the tee, which pipeline destroys with them.
    pipeline(payload, tee, () => undefined);
    return tee;
  }

  /** Resolves to the reply when it answered from a stored response (Fastify then skips the handler). */
  private async beforeHandler(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (request.method !== 'POST') return undefined;
    const key = request.headers[IDEMPOTENCY_HEADER];
    if (key === undefined) return undefined;
    if (typeof key !== 'string' || !KEY_RE.test(key)) {
      throw new DomainError('VALIDATION_FAILED', KEY_MESSAGE, { detail: KEY_MESSAGE, field: 'Idempotency-Key', fields: ['Idempotency-Key'] });
    }
    const secrets = deriveIdempotencySecrets({
      credential: presentedCredential(request),
      key,
      method: request.method,
      url: request.url,
      body: Buffer.concat(this.bodies.get(request) ?? []),
    });
    this.bodies.delete(request);
    this.purgeNowAndThen();

    // A few rounds at most: each lost race means another attempt changed the row in between.
    for (let round = 0; round < 5; round++) {
      const now = this.now();
      const rec: NewIdempotencyRecord = { id: secrets.id, fingerprint: secrets.fingerprint, lockToken: randomBytes(16).toString('hex'), now };
      if (await this.store.claim(rec)) {
        this.held.set(request, { secrets, lockToken: rec.lockToken });
        return undefined;
      }
      const row = await this.store.find(secrets.id);
      if (!row) continue;
      const expired = now.getTime() - row.created_at.getTime() >= IDEMPOTENCY_TTL_MS;
      if (!expired) {
        if (!sameFingerprint(row.fingerprint, secrets.fingerprint)) throw new DomainError('IDEMPOTENCY_KEY_REUSED');
        if (row.state === 'in_flight') {
          if (now.getTime() - row.locked_at.getTime() < IDEMPOTENCY_STALE_IN_FLIGHT_MS) throw new DomainError('IDEMPOTENCY_KEY_IN_USE', undefined, { retry_after: 1 });
        } else {
          const plaintext = row.response === null ? null : openResponse(secrets, row.response);
          const stored = plaintext && decodeResponse(plaintext);
          if (stored) return this.replay(request, reply, stored);
          // Unreadable (tampered or corrupted): never served; treated as absent, so this request runs.
          this.log.warn({ request_id: request.id }, 'stored idempotent response does not authenticate; running the request again');
        }
      }
      if (await this.store.takeOver(row.lock_token, rec)) {
        this.held.set(request, { secrets, lockToken: rec.lockToken });
        return undefined;
      }
    }
    throw new DomainError('IDEMPOTENCY_KEY_IN_USE', undefined, { retry_after: 1 });
  }

  private replay(request: FastifyRequest, reply: FastifyReply, stored: { status: number; headers: Record<string, string | string[]>; body: Buffer }): FastifyReply {
    // The first request wrote its audit event; a replay does nothing, so it writes none.
    request.auditWritten = true;
    reply.code(stored.status);
    for (const [name, value] of Object.entries(stored.headers)) reply.header(name, value);
    reply.header(REPLAYED_HEADER, 'true');
    // Returned from the async hook: Fastify then runs no later hook and no handler.
    return reply.send(stored.body);
  }

  private async onSend(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    const held = this.held.get(request);
    if (!held) return payload;
    this.held.delete(request);
    const status = reply.statusCode;
    const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.isBuffer(payload) ? payload : payload == null ? Buffer.alloc(0) : null;
    if (status >= 500 || status === 429 || body === null || body.length > IDEMPOTENCY_MAX_STORED_BYTES) {
      await this.release(request, held);
      return payload;
    }
    const headers: Record<string, string | string[]> = {};
    for (const name of STORED_HEADERS) {
      const value = reply.getHeader(name);
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.map(String) : String(value);
    }
    try {
      const sealed = sealResponse(held.secrets, encodeResponse({ status, headers, body }));
      await this.store.complete(held.secrets.id, held.lockToken, sealed);
    } catch (err) {
      // The request did its work: its answer goes out. The row stays in flight and may be taken over after a minute.
      request.log.warn({ err }, 'could not store the idempotent response');
    }
    return payload;
  }

  private async releaseIfHeld(request: FastifyRequest): Promise<void> {
    const held = this.held.get(request);
    if (!held) return;
    this.held.delete(request);
    await this.release(request, held);
  }

  private async release(request: FastifyRequest, held: Held): Promise<void> {
    await this.store.release(held.secrets.id, held.lockToken).catch((err: unknown) => request.log.warn({ err }, 'could not release an idempotency key'));
  }

  /** Expired rows go on write, at most once a minute per process, in the background (an index on created_at). */
  private purgeNowAndThen(): void {
    const now = this.now();
    if (now.getTime() - this.lastPurge < PURGE_INTERVAL_MS) return;
    this.lastPurge = now.getTime();
    this.store.purgeCreatedBefore(new Date(now.getTime() - IDEMPOTENCY_TTL_MS)).catch((err: unknown) => this.log.warn({ err }, 'could not purge expired idempotency keys'));
  }
}
