import { sql, type Kysely, type Selectable } from 'kysely';
import type { Logger } from 'pino';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import type { SecretCipher } from '../../core/crypto/cipher.js';
import { newUuid } from '../../core/ids.js';
import type { ChannelDeliveriesTable, TenantSchema } from '../db/schema.js';
import type { EventBus } from '../events/bus.js';
import { renderRequest, type Notification } from './formats.js';
import { postJson, type NetworkPolicy, type PostResult } from './network.js';
import { openConfig, type ChannelRow } from './store.js';

/**
 * Channel delivery: an outbox worker. The stored event log (workspace_events) is the source: a cursor row remembers
 * the last event turned into deliveries, so an event committed while this process was down (or on another replica)
 * is still delivered — at least once. Each (channel, event) pair is one delivery row (unique), sent by whichever
 * replica leases it first (`FOR UPDATE SKIP LOCKED`, then `next_attempt_at` pushed past the send's timeout), retried
 * with exponential backoff up to a bounded number of attempts, each attempt logged. The event bus only wakes the
 * worker early; the poll interval covers everything else.
 */

type Db = Kysely<TenantSchema>;
type DeliveryRow = Selectable<ChannelDeliveriesTable>;

export interface ChannelDeliveryOptions {
  db: Db;
  cipher: SecretCipher;
  log: Logger;
  events: EventBus;
  policy: NetworkPolicy;
  pollMs: number;
  timeoutMs: number;
  maxAttempts: number;
  backoffMs: number;
}

/** Events turned into deliveries per scan, and deliveries sent per round. */
const SCAN_BATCH = 500;
const SEND_BATCH = 20;
const MAX_BACKOFF_MS = 3_600_000;

export class ChannelDelivery {
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  /** When the worker last finished a round (GET /admin/liveness may report it). */
  lastTickAt: Date | null = null;

  constructor(private readonly o: ChannelDeliveryOptions) {}

  /** The SSRF policy channel configs are checked against (CHANNEL_ALLOWED_NETWORKS). */
  get policy(): NetworkPolicy {
    return this.o.policy;
  }

  /** Starts the worker: woken by every event recorded in this process, and every `pollMs` anyway. */
  start(): void {
    if (this.closed || this.timer) return;
    this.unsubscribe = this.o.events.subscribe((event) => {
      if (event.workspace_id) this.poke();
    });
    this.timer = setInterval(() => this.poke(), this.o.pollMs);
    this.timer.unref();
    this.poke();
  }

  /** Runs a round now (or right after the current one). */
  poke(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  /** Resolves once no round is running (tests wait on it). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.round();
      } catch (err) {
        if (!this.closed) this.o.log.warn({ err }, 'channel delivery round failed; retried at the next poll');
      }
      this.lastTickAt = new Date();
    } while (this.again && !this.closed);
  }

  /** Stops the worker; a send in flight finishes (bounded by the delivery timeout) and is recorded. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    await this.running;
  }

  private async round(): Promise<void> {
    while (!this.closed && (await this.scanEvents()) === SCAN_BATCH);
    while (!this.closed) {
      const due = await this.claimDue();
      if (due.length === 0) return;
      await Promise.all(due.map((d) => this.attempt(d)));
    }
  }

  /** Turns stored events after the cursor into delivery rows for the channels that chose them. Returns the events read. */
  private async scanEvents(): Promise<number> {
    return this.o.db.transaction().execute(async (trx) => {
      // Another replica scanning holds the row: it will do this work; skip rather than wait.
      const cursor = await sql<{ last_event_id: string | number }>`select last_event_id from channel_event_cursor where id = 1 for update skip locked`.execute(trx);
      const last = cursor.rows[0];
      if (!last) return 0;
      const events = await trx
        .selectFrom('workspace_events')
        .select(['id', 'event_type', 'workspace_id', 'payload', 'created_at'])
        .where('id', '>', Number(last.last_event_id))
        .orderBy('id', 'asc')
        .limit(SCAN_BATCH)
        .execute();
      if (events.length === 0) return 0;
      const workspaceIds = [...new Set(events.map((e) => e.workspace_id).filter((id): id is string => id !== null))];
      if (workspaceIds.length > 0) {
        const channels = await trx
          .selectFrom('channels')
          .select(['id', 'workspace_id', 'events', 'created_at'])
          .where('enabled', '=', true)
          .where('workspace_id', 'in', workspaceIds)
          .execute();
        const names = new Map(
          (await trx.selectFrom('workspaces').select(['id', 'name']).where('id', 'in', workspaceIds).execute()).map((w) => [w.id, w.name]),
        );
        const rows = [];
        for (const e of events) {
          for (const c of channels) {
            if (c.workspace_id !== e.workspace_id || !c.events.includes(e.event_type)) continue;
            // A channel hears what happened after it was made, never the history before it.
            if (new Date(c.created_at).getTime() > new Date(e.created_at).getTime()) continue;
            rows.push({
              id: newUuid(),
              channel_id: c.id,
              workspace_id: c.workspace_id,
              event_id: Number(e.id),
              event_type: e.event_type,
              payload: JSON.stringify({ event: stripInternal(e.payload), workspace_name: names.get(c.workspace_id) ?? '', created_at: new Date(e.created_at).toISOString() }),
            });
          }
        }
        if (rows.length > 0) {
          await trx
            .insertInto('channel_deliveries')
            .values(rows)
            .onConflict((oc) => oc.columns(['channel_id', 'event_id']).where('event_id', 'is not', null).doNothing())
            .execute();
        }
      }
      const newest = events[events.length - 1];
      if (newest) await trx.updateTable('channel_event_cursor').set({ last_event_id: Number(newest.id) }).where('id', '=', 1).execute();
      return events.length;
    });
  }

  /** Leases due deliveries: locked rows (another replica's) are skipped, and the lease outlives one send. */
  private async claimDue(): Promise<DeliveryRow[]> {
    const leaseMs = this.o.timeoutMs * 2 + 5000;
    return this.o.db.transaction().execute(async (trx) => {
      const due = await trx
        .selectFrom('channel_deliveries')
        .selectAll()
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', sql<Date>`now()`)
        .orderBy('next_attempt_at', 'asc')
        .limit(SEND_BATCH)
        .forUpdate()
        .skipLocked()
        .execute();
      if (due.length === 0) return [];
      await trx
        .updateTable('channel_deliveries')
        .set({ next_attempt_at: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})` })
        .where(
          'id',
          'in',
          due.map((d) => d.id),
        )
        .execute();
      return due;
    });
  }

  private async attempt(d: DeliveryRow): Promise<void> {
    const channel = await this.o.db.selectFrom('channels').selectAll().where('id', '=', d.channel_id).executeTakeFirst();
    let result: PostResult;
    if (!channel || !channel.enabled) {
      result = { statusCode: null, error: 'channel disabled', durationMs: 0 };
      await this.record(d, result, true);
      return;
    }
    try {
      result = await this.send(channel, notificationOf(d));
    } catch (err) {
      // A config that no longer opens (a removed encryption key): retrying cannot help.
      result = { statusCode: null, error: `channel config unreadable: ${(err as Error).message}`, durationMs: 0 };
      await this.record(d, result, true);
      return;
    }
    await this.record(d, result, false);
  }

  /** Renders and POSTs one notification to a channel (also the test route's synchronous send). */
  async send(channel: ChannelRow, n: Notification): Promise<PostResult> {
    const config = openConfig(this.o.cipher, channel);
    const request = renderRequest(channel.type, config, n);
    return postJson(this.o.policy, request.url, request.body, request.headers, this.o.timeoutMs);
  }

  private async record(d: DeliveryRow, result: PostResult, giveUp: boolean): Promise<void> {
    const attempt = d.attempts + 1;
    const ok = result.error === null;
    const failed = !ok && (giveUp || attempt >= this.o.maxAttempts);
    const delayMs = Math.min(MAX_BACKOFF_MS, this.o.backoffMs * 2 ** (attempt - 1));
    await this.o.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('channel_delivery_attempts')
        .values({ delivery_id: d.id, attempt, status_code: result.statusCode, error: result.error, duration_ms: result.durationMs })
        .onConflict((oc) => oc.columns(['delivery_id', 'attempt']).doNothing())
        .execute();
      await trx
        .updateTable('channel_deliveries')
        .set({
          attempts: attempt,
          last_status_code: result.statusCode,
          last_error: result.error,
          status: ok ? 'delivered' : failed ? 'failed' : 'pending',
          delivered_at: ok ? new Date() : null,
          next_attempt_at: ok || failed ? sql<Date>`now()` : sql<Date>`now() + make_interval(secs => ${delayMs / 1000})`,
        })
        .where('id', '=', d.id)
        .where('attempts', '=', d.attempts)
        .execute();
    });
    if (!ok) this.o.log.info({ delivery_id: d.id, channel_id: d.channel_id, attempt, status_code: result.statusCode, error: result.error, gave_up: failed }, 'channel delivery attempt failed');
  }

  /** POST …/channels/:channelId/test: sends now, logs it as a delivery (with the caller's audit event), answers the result. */
  async sendTest(channel: ChannelRow, workspaceName: string, audit: AuditEventInput): Promise<PostResult> {
    const id = newUuid();
    const createdAt = new Date().toISOString();
    const payload = { message: 'Test message from Molecule: this channel is set up correctly.' };
    let result: PostResult;
    try {
      result = await this.send(channel, { deliveryId: id, eventType: 'CHANNEL_TEST', workspaceId: channel.workspace_id, workspaceName, createdAt, payload });
    } catch (err) {
      result = { statusCode: null, error: `channel config unreadable: ${(err as Error).message}`, durationMs: 0 };
    }
    const ok = result.error === null;
    await this.o.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('channel_deliveries')
        .values({
          id,
          channel_id: channel.id,
          workspace_id: channel.workspace_id,
          event_id: null,
          event_type: 'CHANNEL_TEST',
          payload: JSON.stringify({ event: payload, workspace_name: workspaceName, created_at: createdAt }),
          status: ok ? 'delivered' : 'failed',
          attempts: 1,
          last_status_code: result.statusCode,
          last_error: result.error,
          delivered_at: ok ? new Date() : null,
        })
        .execute();
      await trx.insertInto('channel_delivery_attempts').values({ delivery_id: id, attempt: 1, status_code: result.statusCode, error: result.error, duration_ms: result.durationMs }).execute();
      await appendAuditEvents(trx, [audit]);
    });
    return result;
  }
}

/** Internal bookkeeping never leaves the tenant (the bus hides the same field from streams). */
function stripInternal(payload: Record<string, unknown>): Record<string, unknown> {
  const { legacy_value_hash: _unkeyed, ...rest } = payload;
  return rest;
}

function notificationOf(d: DeliveryRow): Notification {
  const p = d.payload as { event?: Record<string, unknown>; workspace_name?: string; created_at?: string };
  return {
    deliveryId: d.id,
    eventType: d.event_type,
    workspaceId: d.workspace_id,
    workspaceName: p.workspace_name ?? '',
    createdAt: p.created_at ?? new Date(d.created_at).toISOString(),
    payload: p.event ?? {},
  };
}
