import { Readable } from 'node:stream';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { auditEventFor } from '../../core/audit/request.js';
import { ValidationError } from '../../core/errors.js';
import type { App } from '../../core/http/app.js';
import type { TenantContext } from '../context.js';
import type { EventBus, WorkspaceEvent } from './bus.js';

/**
 * Tunables of every event stream. One mutable object rather than constants so a test can shorten them (an ESM
 * export binding is read-only; the fields of the object it names are not).
 */
export const SSE_SETTINGS = {
  /** A comment line this often keeps proxies from timing out an idle stream (the reference sends none, §10). */
  keepAliveMs: 15_000,
  /**
   * Events a connection may hold for a consumer that is not reading. Past it the stream ends with
   * `event: overflow` and the client resumes with Last-Event-ID; the reference silently drops past 64 (§7).
   */
  maxPendingEvents: 1000,
  /** Rows per `listAfter` query while replaying after Last-Event-ID. */
  replayPageSize: 500,
};

/** The response headers of a stream (reference §7, plus `no-cache` so no proxy replays a stale stream). */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
} as const;

/** The JSON of a frame's `data:` line: the reference's `type`, `timestamp` (unix ms) and `data`, plus ids. */
export interface EventFrameData {
  id: number;
  type: string;
  workspace_id: string | null;
  timestamp: number;
  data: Record<string, unknown>;
}

/** One event as an SSE frame. JSON.stringify never emits a raw newline, so `data:` stays one line. */
export function eventFrame(event: WorkspaceEvent): string {
  const data: EventFrameData = {
    id: event.id,
    type: event.event_type,
    workspace_id: event.workspace_id,
    timestamp: Date.parse(event.created_at),
    data: event.payload,
  };
  return `id: ${event.id}\nevent: ${event.event_type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** What a stream needs of the bus (the real EventBus in the app; the same methods are all a test needs). */
export type EventSource = Pick<EventBus, 'subscribe' | 'listAfter'>;

export interface EventStreamOptions {
  bus: EventSource;
  /** Only this workspace's events; null for every event of the org. */
  workspaceId: string | null;
  /** Resume after this id (Last-Event-ID); null streams live events only. */
  lastEventId: number | null;
  log: Pick<FastifyBaseLogger, 'warn' | 'error'>;
}

interface Frame {
  text: string;
  /** The event's id, or null for a comment. */
  eventId: number | null;
}

/**
 * One client's event stream, as a Readable that Fastify pipes to the response (so the reply keeps its normal
 * lifecycle: onSend headers, no second response, and the stream is destroyed when the client goes away).
 *
 * Resuming without gaps or duplicates: the stream subscribes to the bus *before* it queries the table, holds the
 * live events that arrive meanwhile, replays the stored ones page by page, then sends the held events it did not
 * already replay. An event recorded while the query runs is in the table, in the held list, or both — never
 * neither, because the bus notifies only after its insert has committed.
 *
 * Memory is bounded: frames wait in `outbox` only while the consumer is not reading (Readable backpressure), the
 * replay fetches its next page only once the consumer has taken the last one, and past `maxPendingEvents`
 * waiting events the stream ends with `event: overflow` instead of growing or dropping silently.
 */
export class EventStream extends Readable {
  private phase: 'replay' | 'live' | 'closed';
  private readonly outbox: Frame[] = [];
  private outboxEvents = 0;
  /** Live events that arrived while the replay ran. */
  private held: WorkspaceEvent[] = [];
  private consumerWants = false;
  /** The last event id handed to the consumer; what the client will send back as Last-Event-ID. */
  private lastPushedId: number | null;
  private onOutboxEmpty: (() => void) | null = null;
  private unsubscribe: (() => void) | null;
  private readonly keepAlive: NodeJS.Timeout;
  private readonly workspaceId: string | null;
  private readonly log: EventStreamOptions['log'];

  constructor(private readonly opts: EventStreamOptions) {
    super();
    this.workspaceId = opts.workspaceId;
    this.log = opts.log;
    this.lastPushedId = opts.lastEventId;
    this.phase = opts.lastEventId === null ? 'live' : 'replay';
    // Subscribe first, synchronously: nothing recorded from here on can be missed (see the class comment).
    this.unsubscribe = opts.bus.subscribe((event) => this.onLiveEvent(event));
    this.enqueue({ text: ': ping\n\n', eventId: null });
    this.keepAlive = setInterval(() => {
      // A stream with frames waiting is not idle; a comment behind them would only add to the backlog.
      if (this.outbox.length === 0) this.enqueue({ text: ': keepalive\n\n', eventId: null });
    }, SSE_SETTINGS.keepAliveMs);
    this.keepAlive.unref();
    if (opts.lastEventId !== null) {
      this.replay(opts.lastEventId).catch((err: unknown) => {
        this.log.error({ err }, 'event stream replay failed');
        this.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    }
  }

  /** A method-free read, so TypeScript does not carry a narrowing of `phase` across an await. */
  private get stopped(): boolean {
    return this.phase === 'closed';
  }

  /** Events waiting for the consumer (held during replay plus queued frames). */
  get pendingEvents(): number {
    return this.held.length + this.outboxEvents;
  }

  /** Ends the stream now (server shutdown). The client resumes from the last event it received. */
  shutdown(): void {
    if (this.phase === 'closed') return;
    this.stop();
    this.discardPending();
    this.push(null);
  }

  override _read(): void {
    this.consumerWants = true;
    this.flush();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.stop();
    this.discardPending();
    callback(err);
  }

  private onLiveEvent(event: WorkspaceEvent): void {
    if (this.phase === 'closed') return;
    if (this.workspaceId !== null && event.workspace_id !== this.workspaceId) return;
    if (this.phase === 'replay') this.held.push(event);
    else this.enqueue({ text: eventFrame(event), eventId: event.id });
    this.checkPressure();
  }

  private async replay(afterId: number): Promise<void> {
    // Ids sent from the table, to skip when the same event also arrived live. Dropped once the replay is done.
    const replayed = new Set<number>();
    let cursor = afterId;
    for (;;) {
      // A page never exceeds what a connection may hold, so the replay alone cannot overflow a healthy stream.
      const pageSize = Math.max(1, Math.min(SSE_SETTINGS.replayPageSize, SSE_SETTINGS.maxPendingEvents));
      const page = await this.opts.bus.listAfter(cursor, this.workspaceId, pageSize);
      if (this.stopped) return;
      for (const event of page) {
        this.enqueue({ text: eventFrame(event), eventId: event.id });
        replayed.add(event.id);
      }
      this.checkPressure();
      if (this.stopped) return;
      const last = page.at(-1);
      if (page.length < pageSize || last === undefined) break;
      cursor = last.id;
      // Pace the replay to the consumer: the next page waits until this one has been taken.
      await this.outboxEmpty();
      if (this.stopped) return;
    }
    // Held events in id order; ids at or below the resume point are ones the client says it already has.
    const held = this.held.sort((a, b) => a.id - b.id);
    this.held = [];
    this.phase = 'live';
    for (const event of held) {
      if (event.id > afterId && !replayed.has(event.id)) this.enqueue({ text: eventFrame(event), eventId: event.id });
    }
    this.checkPressure();
  }

  private enqueue(frame: Frame): void {
    this.outbox.push(frame);
    if (frame.eventId !== null) this.outboxEvents++;
    this.flush();
  }

  /** Hands queued frames to the Readable while the consumer keeps asking (push() returning false means "stop"). */
  private flush(): void {
    while (this.consumerWants) {
      const frame = this.outbox.shift();
      if (frame === undefined) break;
      if (frame.eventId !== null) {
        this.outboxEvents--;
        this.lastPushedId = frame.eventId;
      }
      this.consumerWants = this.push(frame.text);
    }
    if (this.outbox.length === 0 && this.onOutboxEmpty) {
      const resolve = this.onOutboxEmpty;
      this.onOutboxEmpty = null;
      resolve();
    }
  }

  private outboxEmpty(): Promise<void> {
    if (this.outbox.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.onOutboxEmpty = resolve;
    });
  }

  private checkPressure(): void {
    if (this.phase === 'closed' || this.pendingEvents <= SSE_SETTINGS.maxPendingEvents) return;
    // The oldest event the client will not get from this connection: it must resume from just before it.
    const waiting = [...this.outbox.flatMap((f) => (f.eventId === null ? [] : [f.eventId])), ...this.held.map((e) => e.id)];
    const resumeFrom = this.lastPushedId ?? Math.min(...waiting) - 1;
    this.log.warn({ pending: this.pendingEvents, resume_from: resumeFrom, workspace_id: this.workspaceId }, 'event stream consumer too slow; closing with overflow');
    this.stop();
    this.discardPending();
    // `id:` sets the client's Last-Event-ID, so an EventSource that reconnects replays exactly what it missed —
    // including a client that connected without one and has received no event yet.
    this.push(`id: ${resumeFrom}\nevent: overflow\ndata: ${JSON.stringify({ reason: 'slow consumer', last_event_id: resumeFrom })}\n\n`);
    this.push(null);
  }

  private discardPending(): void {
    this.outbox.length = 0;
    this.outboxEvents = 0;
    this.held = [];
  }

  private stop(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.unsubscribe?.();
    this.unsubscribe = null;
    clearInterval(this.keepAlive);
    // Let a replay waiting on the consumer see that the stream is gone.
    this.onOutboxEmpty?.();
    this.onOutboxEmpty = null;
  }
}

/**
 * The resume point: the `Last-Event-ID` header (what an EventSource sends when it reconnects) wins over
 * `?last_event_id=` (what a client passes on its first connection), since the header is the newer of the two.
 */
export function resumePoint(header: string | string[] | undefined, query: string | undefined): number | null {
  const raw = (Array.isArray(header) ? header[0] : header) ?? query;
  if (raw === undefined || raw.trim() === '') return null;
  if (!/^\d{1,15}$/.test(raw.trim())) throw new ValidationError('invalid Last-Event-ID: must be an event id', { field: 'last-event-id' });
  return Number(raw.trim());
}

/**
 * The open streams of one app. A stream never ends by itself, and `server.close()` waits for every open
 * response, so `preClose` ends them (clients resume elsewhere with Last-Event-ID).
 */
export function trackEventStreams(app: App): Set<EventStream> {
  const open = new Set<EventStream>();
  app.addHook('preClose', async () => {
    for (const stream of open) stream.shutdown();
  });
  return open;
}

export interface OpenEventStreamOptions {
  workspaceId: string | null;
  lastEventId: number | null;
  open: Set<EventStream>;
}

/**
 * Answers a request with an event stream. The audit event is written when the stream opens: a stream lives for
 * hours and usually ends with the client going away, when Fastify runs no onResponse hook.
 */
export async function sendEventStream(
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: TenantContext,
  opts: OpenEventStreamOptions,
): Promise<FastifyReply> {
  await ctx.auditWriter.enqueue(auditEventFor(request, 200, reply.elapsedTime));
  request.auditWritten = true;
  const stream = new EventStream({ bus: ctx.events, workspaceId: opts.workspaceId, lastEventId: opts.lastEventId, log: request.log });
  opts.open.add(stream);
  stream.once('close', () => opts.open.delete(stream));
  reply.code(200).headers(SSE_HEADERS);
  return reply.send(stream);
}
