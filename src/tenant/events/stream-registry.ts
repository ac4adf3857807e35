import { LoopTicks } from '../../core/liveness.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { auditEventFor } from '../../core/audit/request.js';
import type { Principal } from '../../core/auth/principal.js';
import { DomainError } from '../../core/errors.js';
import type { TenantAuthenticator } from '../auth/authenticator.js';
import type { SessionVerifier } from '../auth/session-verifier.js';
import type { TenantContext } from '../context.js';
import type { TenantSchema } from '../db/schema.js';
import { EventStream, SSE_HEADERS, SSE_SETTINGS, type StreamEndReason } from './sse.js';

export interface StreamLimits {
  /** Open streams in this process (EVENT_STREAMS_MAX). */
  maxTotal: number;
  /** Open streams per credential (EVENT_STREAMS_PER_CREDENTIAL_MAX). */
  maxPerCredential: number;
  /** Each stream's buffer for a consumer that is not reading (EVENT_STREAM_BUFFER_BYTES). */
  maxPendingBytes: number;
}

export interface StreamRegistryDeps {
  db: Kysely<TenantSchema>;
  log: Pick<Logger, 'warn'>;
  auth: Pick<TenantAuthenticator, 'bootstrapOpen'>;
  sessionVerifier: Pick<SessionVerifier, 'verify'> | null;
  limits: StreamLimits;
  /** Background-loop ticks (GET /admin/liveness): one per re-verification pass (it runs while streams are open). */
  ticks?: LoopTicks;
}

/** One open stream and what it was opened with. */
interface OpenStream {
  principal: Principal;
  /** What the per-credential limit counts by: the stored credential's id, else the actor (`admin-token`, `session:<user>`). */
  credentialKey: string;
  /** The workspace the stream is confined to, or null for every workspace of the org. */
  workspaceId: string | null;
  /** The session cookie a tier-1 stream re-verifies with; held in memory only while the stream is open. */
  cookie: string | null;
  stream: EventStream | null;
}

/** What a credential's id says about its liveness right now. */
const LIVE_ORG_TOKENS = (ids: readonly string[]) =>
  sql<{ id: string }>`select id from org_api_tokens where id in (${sql.join(ids)})
    and revoked_at is null and (expires_at is null or expires_at > now())`;
const LIVE_WORKSPACE_TOKENS = (ids: readonly string[]) =>
  sql<{ id: string }>`select t.id from workspace_tokens t join workspaces w on w.id = t.workspace_id
    where t.id in (${sql.join(ids)}) and t.revoked_at is null and w.status <> 'removed'`;
const LIVE_WORKSPACES = (ids: readonly string[]) =>
  sql<{ id: string }>`select id from workspaces where id in (${sql.join(ids)}) and status <> 'removed'`;

/**
 * Every open event stream of the app: admission against the limits, and the rule that a stream lives no longer
 * than its credential and its workspace (DESIGN.md §4: a revoke binds on the next request — a stream is one long
 * request, so it is re-verified).
 *
 * - Local revocations end the credential's streams at once, before anything else is delivered (`credentialRevoked`,
 *   called by the revoke routes); a local workspace removal ends its streams after the WORKSPACE_REMOVED event
 *   (`workspacesRemoved`, called by the delete route).
 * - Every `SSE_SETTINGS.recheckMs` the credentials and workspaces of open streams are re-read from the datastore,
 *   in one query per kind, which catches a revoke or delete on another replica, an expiry, a session the control
 *   plane no longer confirms (through the verifier and its cache) and lazy bootstrap closing. A datastore that
 *   cannot answer ends the streams it was asked about: access decisions fail closed.
 */
export class EventStreamRegistry {
  private readonly open = new Set<OpenStream>();
  private readonly perCredential = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  private closed = false;

  private readonly ticked: () => void;

  constructor(private readonly deps: StreamRegistryDeps) {
    this.ticked = (deps.ticks ?? new LoopTicks()).register('event_stream_recheck');
  }

  get size(): number {
    return this.open.size;
  }

  /**
   * Reserves a slot for a new stream, or refuses with 429 STREAM_LIMIT. Synchronous, so concurrent requests cannot
   * both take the last slot. The slot is released when the stream closes (or by `release` if it never opens).
   */
  admit(principal: Principal, opts: { workspaceId: string | null; cookie: string | undefined }): OpenStream {
    const { maxTotal, maxPerCredential } = this.deps.limits;
    const credentialKey = principal.credentialId ?? principal.actor;
    const refuse = (scope: 'credential' | 'tenant', limit: number, where: string) => {
      throw new DomainError('STREAM_LIMIT', `too many open event streams ${where} (limit ${limit})`, {
        scope,
        limit,
        retry_after: SSE_SETTINGS.retryAfterSeconds,
      });
    };
    if (this.closed) throw new DomainError('STREAM_LIMIT', undefined, { scope: 'tenant', limit: 0, retry_after: SSE_SETTINGS.retryAfterSeconds });
    if ((this.perCredential.get(credentialKey) ?? 0) >= maxPerCredential) refuse('credential', maxPerCredential, 'for this credential');
    if (this.open.size >= maxTotal) refuse('tenant', maxTotal, 'on this server');
    const entry: OpenStream = {
      principal,
      credentialKey,
      workspaceId: opts.workspaceId,
      cookie: principal.class === 'session' ? (opts.cookie ?? null) : null,
      stream: null,
    };
    this.open.add(entry);
    this.perCredential.set(credentialKey, (this.perCredential.get(credentialKey) ?? 0) + 1);
    this.schedule();
    return entry;
  }

  /** Binds the admitted slot to its stream; the slot frees itself when the stream closes. */
  attach(entry: OpenStream, stream: EventStream): void {
    entry.stream = stream;
    stream.once('close', () => this.release(entry));
    if (this.closed) stream.shutdown();
    else if (!this.open.has(entry)) stream.end('credential_invalid', { deliverQueued: false }); // revoked meanwhile
  }

  release(entry: OpenStream): void {
    if (!this.open.delete(entry)) return;
    const n = (this.perCredential.get(entry.credentialKey) ?? 1) - 1;
    if (n <= 0) this.perCredential.delete(entry.credentialKey);
    else this.perCredential.set(entry.credentialKey, n);
    if (this.open.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /**
   * Workspaces were removed on this replica (after their WORKSPACE_REMOVED was recorded): their streams, and the
   * streams of their tokens, deliver what is queued — the removal among it — and end.
   */
  workspacesRemoved(ids: readonly string[]): void {
    const removed = new Set(ids);
    this.endWhere((s) => (s.workspaceId !== null && removed.has(s.workspaceId)) || ownTokenOfAny(s.principal, removed), 'workspace_removed', true);
  }

  /** A credential was revoked on this replica: its streams end now, with nothing more delivered. */
  credentialRevoked(credentialId: string): void {
    this.endWhere((s) => s.principal.credentialId === credentialId, 'credential_invalid', false);
  }

  /** Server shutdown: every stream ends (clients resume elsewhere with Last-Event-ID). */
  shutdown(): void {
    this.closed = true;
    for (const entry of [...this.open]) {
      entry.stream?.shutdown();
      this.release(entry);
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Waits for a verification in progress (so a closing app does not query a closed database). */
  async close(): Promise<void> {
    this.shutdown();
    await this.checking;
  }

  private endWhere(match: (s: OpenStream) => boolean, reason: StreamEndReason, deliverQueued: boolean): void {
    for (const entry of [...this.open]) {
      if (!match(entry)) continue;
      this.release(entry);
      entry.stream?.end(reason, { deliverQueued });
    }
  }

  private schedule(): void {
    if (this.timer || this.closed || this.open.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.checking = this.recheck()
        .then(() => this.ticked())
        .catch((err: unknown) => this.deps.log.warn({ err }, 'event stream re-verification failed'))
        .finally(() => {
          this.checking = null;
          this.schedule();
        });
    }, SSE_SETTINGS.recheckMs);
    this.timer.unref();
  }

  /** One pass over the open streams: each kind of credential and the workspaces, one query each. */
  private async recheck(): Promise<void> {
    const entries = [...this.open];
    const ids = (cls: Principal['class']) => [
      ...new Set(entries.filter((e) => e.principal.class === cls && e.principal.credentialId !== null).map((e) => e.principal.credentialId as string)),
    ];
    const orgTokenIds = ids('org-token');
    const workspaceTokenIds = ids('workspace-token');
    const workspaceIds = [...new Set(entries.flatMap((e) => (e.workspaceId === null ? [] : [e.workspaceId])))];

    const live = async (wanted: string[], query: (ids: readonly string[]) => ReturnType<typeof LIVE_WORKSPACES>): Promise<Set<string> | null> => {
      if (wanted.length === 0) return new Set();
      try {
        return new Set((await query(wanted).execute(this.deps.db)).rows.map((r) => r.id));
      } catch (err) {
        this.deps.log.warn({ err }, 'event stream re-verification: datastore unavailable; ending the streams it could not confirm');
        return null;
      }
    };
    const liveOrgTokens = await live(orgTokenIds, LIVE_ORG_TOKENS);
    const liveWorkspaceTokens = await live(workspaceTokenIds, LIVE_WORKSPACE_TOKENS);
    const liveWorkspaces = await live(workspaceIds, LIVE_WORKSPACES);

    const sessions = new Map<string, string | null>();
    for (const e of entries) {
      if (e.principal.class !== 'session' || e.cookie === null || sessions.has(e.cookie)) continue;
      // The verifier's own cache applies (30 s positive by default); a transport failure answers null: fail closed.
      const session = this.deps.sessionVerifier ? await this.deps.sessionVerifier.verify(e.cookie).catch(() => null) : null;
      sessions.set(e.cookie, session?.userId ?? null);
    }
    const bootstrapStillOpen = entries.some((e) => e.principal.class === 'bootstrap') ? await this.deps.auth.bootstrapOpen().catch(() => false) : true;

    for (const e of entries) {
      if (!this.open.has(e)) continue;
      const verdict = this.verdict(e, { liveOrgTokens, liveWorkspaceTokens, liveWorkspaces, sessions, bootstrapStillOpen });
      if (verdict === null) continue;
      this.release(e);
      e.stream?.end(verdict, { deliverQueued: verdict === 'workspace_removed' });
    }
  }

  private verdict(
    e: OpenStream,
    now: {
      liveOrgTokens: Set<string> | null;
      liveWorkspaceTokens: Set<string> | null;
      liveWorkspaces: Set<string> | null;
      sessions: Map<string, string | null>;
      bootstrapStillOpen: boolean;
    },
  ): StreamEndReason | null {
    const p = e.principal;
    const confirmed = (set: Set<string> | null, id: string | null): boolean | null => (set === null ? null : id !== null && set.has(id));
    let credential: boolean | null = true;
    if (p.class === 'org-token') credential = confirmed(now.liveOrgTokens, p.credentialId);
    else if (p.class === 'workspace-token') credential = confirmed(now.liveWorkspaceTokens, p.credentialId);
    else if (p.class === 'session') credential = e.cookie !== null && now.sessions.get(e.cookie) === p.actor.slice('session:'.length);
    else if (p.class === 'bootstrap') credential = now.bootstrapStillOpen;
    // admin-token: configuration, unchanged while the process runs.
    if (credential === null) return 'verification_unavailable';
    if (!credential) return 'credential_invalid';
    if (e.workspaceId !== null) {
      const workspace = confirmed(now.liveWorkspaces, e.workspaceId);
      if (workspace === null) return 'verification_unavailable';
      if (!workspace) return 'workspace_removed';
    }
    return null;
  }
}

/** A workspace token exists for its one workspace only. */
function ownTokenOfAny(p: Principal, workspaceIds: ReadonlySet<string>): boolean {
  const own = p.class === 'workspace-token' && p.workspaceIds?.length === 1 ? p.workspaceIds[0] : undefined;
  return own !== undefined && workspaceIds.has(own);
}

export interface OpenEventStreamOptions {
  workspaceId: string | null;
  lastEventId: number | null;
}

/**
 * Answers a request with an event stream, or 429 STREAM_LIMIT (with Retry-After) past the limits. The audit event
 * is written when the stream opens: a stream lives for hours and usually ends with the client going away, when
 * Fastify runs no onResponse hook.
 */
export async function sendEventStream(request: FastifyRequest, reply: FastifyReply, ctx: TenantContext, opts: OpenEventStreamOptions): Promise<FastifyReply> {
  const principal = request.principal!; // every stream route is mounted in an authenticated tier
  let entry: OpenStream;
  try {
    entry = ctx.streams.admit(principal, { workspaceId: opts.workspaceId, cookie: request.headers.cookie });
  } catch (err) {
    if (err instanceof DomainError && err.code === 'STREAM_LIMIT') reply.header('retry-after', String(SSE_SETTINGS.retryAfterSeconds));
    throw err;
  }
  try {
    await ctx.auditWriter.enqueue(auditEventFor(request, 200, reply.elapsedTime));
  } catch (err) {
    ctx.streams.release(entry);
    throw err;
  }
  request.auditWritten = true;
  const stream = new EventStream({
    bus: ctx.events,
    workspaceId: opts.workspaceId,
    lastEventId: opts.lastEventId,
    log: request.log,
    maxPendingBytes: ctx.config.EVENT_STREAM_BUFFER_BYTES,
  });
  ctx.streams.attach(entry, stream);
  reply.code(200).headers(SSE_HEADERS);
  return reply.send(stream);
}
