import { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { ValidationError } from '../../core/errors.js';
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
  /**
   * Bytes of frames a connection may hold, when the stream is not given its own budget (the app passes
   * EVENT_STREAM_BUFFER_BYTES). Events vary in size, so a count alone does not bound memory.
   */
  maxPendingBytes: 1024 * 1024,
  /** Rows per `listAfter` query while replaying after Last-Event-ID. */
  replayPageSize: 500,
  /**
   * How often open streams re-verify their credential and workspace against the datastore (stream-registry.ts):
   * what bounds how long a stream outlives a revoke made on another replica.
   */
  recheckMs: 5000,
  /** The Retry-After of a refused stream (429 STREAM_LIMIT): slots free up as clients go away. */
  retryAfterSeconds: 5,
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

/** Why a stream was ended by the server, in its last frame (`event: closed`). */
export type StreamEndReason = 'credential_invalid' | 'workspace_removed' | 'verification_unavailable';

/** The last frame of a stream the server ends: no `id:`, so the client's Last-Event-ID stays what it received. */
export function closedFrame(reason: StreamEndReason): string {
  return `event: closed\ndata: ${JSON.stringify({ reason })}\n\n`;
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
  /** Bytes of frames this connection may hold for a consumer that is not reading (default SSE_SETTINGS.maxPendingBytes). */
  maxPendingBytes?: number;
}

interface Frame {
  text: string;
  bytes: number;
  /** The event's id, or null for a comment. */
  eventId: number | null;
}

function frameOf(text: string, eventId: number | null): Frame {
  return { text, bytes: Buffer.byteLength(text, 'utf8'), eventId };
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
 * replay waits for the consumer whenever half the byte budget is queued, and past `maxPendingEvents` waiting events
 * or `maxPendingBytes` waiting bytes the stream ends with `event: overflow` instead of growing or dropping silently.
 * (The Readable's own buffer adds at most its high-water mark plus one frame.)
 */
export class EventStream extends Readable {
  private phase: 'replay' | 'live' | 'closed';
  private readonly outbox: Frame[] = [];
  private outboxEvents = 0;
  private outboxBytes = 0;
  /** Live events that arrived while the replay ran, with their frames' size. */
  private held: Array<{ event: WorkspaceEvent; bytes: number }> = [];
  private heldBytes = 0;
  private readonly maxPendingBytes: number;
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
    this.maxPendingBytes = opts.maxPendingBytes ?? SSE_SETTINGS.maxPendingBytes;
    this.phase = opts.lastEventId === null ? 'live' : 'replay';
    // Subscribe first, synchronously: nothing recorded from here on can be missed (see the class comment).
    this.unsubscribe = opts.bus.subscribe((event) => this.onLiveEvent(event));
    this.enqueue(frameOf(': ping\n\n', null));
    this.keepAlive = setInterval(() => {
      // A stream with frames waiting is not idle; a comment behind them would only add to the backlog.
      if (this.outbox.length === 0) this.enqueue(frameOf(': keepalive\n\n', null));
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

  /** Bytes of frames waiting for the consumer (held during replay plus queued). */
  get pendingBytes(): number {
    return this.heldBytes + this.outboxBytes;
  }

  /** Ends the stream now (server shutdown). The client resumes from the last event it received. */
  shutdown(): void {
    if (this.phase === 'closed') return;
    this.stop();
    this.discardPending();
    this.push(null);
  }

  /**
   * Ends the stream because it may no longer run, with a last `event: closed` frame saying why. A credential that
   * stopped being valid gets nothing more (`deliverQueued: false`); a stream whose workspace was removed first gets
   * the events already queued for it (the removal itself among them), which the byte budget already bounds.
   */
  end(reason: StreamEndReason, opts: { deliverQueued: boolean }): void {
    if (this.phase === 'closed') return;
    this.stop();
    if (opts.deliverQueued) {
      // Past backpressure on purpose: the stream is ending, and what is queued is already within its budget.
      for (const frame of this.outbox) this.push(frame.text);
    }
    this.discardPending();
    this.push(closedFrame(reason));
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
    if (this.phase === 'replay') {
      const bytes = Buffer.byteLength(eventFrame(event), 'utf8');
      this.held.push({ event, bytes });
      this.heldBytes += bytes;
    } else this.enqueue(frameOf(eventFrame(event), event.id));
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
        this.enqueue(frameOf(eventFrame(event), event.id));
        replayed.add(event.id);
        // Large events: pace to the consumer within the page too, so the replay alone stays inside the byte budget.
        if (this.outboxBytes >= this.maxPendingBytes / 2) {
          await this.outboxEmpty();
          if (this.stopped) return;
        }
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
    const held = this.held.map((h) => h.event).sort((a, b) => a.id - b.id);
    this.held = [];
    this.heldBytes = 0;
    this.phase = 'live';
    for (const event of held) {
      if (event.id > afterId && !replayed.has(event.id)) this.enqueue(frameOf(eventFrame(event), event.id));
    }
    this.checkPressure();
  }

  private enqueue(frame: Frame): void {
    this.outbox.push(frame);
    this.outboxBytes += frame.bytes;
    if (frame.eventId !== null) this.outboxEvents++;
    this.flush();
  }

  /** Hands queued frames to the Readable while the consumer keeps asking (push() returning false means "stop"). */
  private flush(): void {
    while (this.consumerWants) {
      const frame = this.outbox.shift();
      if (frame === undefined) break;
      this.outboxBytes -= frame.bytes;
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
    if (this.phase === 'closed') return;
    const tooMany = this.pendingEvents > SSE_SETTINGS.maxPendingEvents;
    // One event is always allowed, however large, so a single oversized event cannot make a stream unusable.
    const tooLarge = this.pendingBytes > this.maxPendingBytes && this.pendingEvents > 1;
    if (!tooMany && !tooLarge) return;
    // The oldest event the client will not get from this connection: it must resume from just before it.
    const waiting = [...this.outbox.flatMap((f) => (f.eventId === null ? [] : [f.eventId])), ...this.held.map((h) => h.event.id)];
    const resumeFrom = this.lastPushedId ?? Math.min(...waiting) - 1;
    this.log.warn(
      { pending: this.pendingEvents, pending_bytes: this.pendingBytes, resume_from: resumeFrom, workspace_id: this.workspaceId },
      'event stream consumer too slow; closing with overflow',
    );
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
    this.outboxBytes = 0;
    this.held = [];
    this.heldBytes = 0;
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
