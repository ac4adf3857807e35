import { sql, type Kysely, type Transaction } from 'kysely';
import type { Logger } from 'pino';
import { isDatastoreOutage, retryThroughOutages } from '../../core/db/outage.js';
import type { TenantSchema } from '../db/schema.js';

/** Advisory lock key that orders event inserts (arbitrary, fixed). */
const EVENT_ORDER_LOCK = 0x6d6f6c65;

/** Event types (the reference's strings, spec §7), the ones this tenant emits. */
export const EVENT_TYPES = [
  'WORKSPACE_PROVISIONING',
  'WORKSPACE_PROVISION_FAILED',
  'WORKSPACE_ONLINE',
  'WORKSPACE_OFFLINE',
  'WORKSPACE_AWAITING_AGENT',
  'WORKSPACE_DEGRADED',
  'WORKSPACE_PAUSED',
  'WORKSPACE_HIBERNATED',
  'WORKSPACE_REMOVED',
  'WORKSPACE_RESTARTED',
  'WORKSPACE_UPDATED',
  'WORKSPACE_PROCESS_EXITED',
  'SECRET_SET',
  'SECRET_DELETED',
  // Plugins (src/tenant/plugins): installed into or removed from the workspace.
  'PLUGIN_INSTALLED',
  'PLUGIN_UNINSTALLED',
  'BUDGET_UPDATED',
  // Approvals (reference §3.15, §7): on the workspace (ESCALATED on its parent); org-wide ones have workspace_id null.
  'APPROVAL_REQUESTED',
  'APPROVAL_ESCALATED',
  'APPROVAL_APPROVED',
  'APPROVAL_DENIED',
  'APPROVAL_WITHDRAWN',
  // A spend report pushed a budget period over its limit (registry heartbeat → budgets/store.ts).
  'BUDGET_EXCEEDED',
  // Org import (reference §3.11, §7): org-wide, so workspace_id is null.
  'org.import.started',
  'org.import.completed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface WorkspaceEvent {
  id: number;
  event_type: EventType;
  workspace_id: string | null;
  payload: Record<string, unknown>;
  created_at: string;
}

export type EventListener = (event: WorkspaceEvent) => void;

/**
 * Lifecycle and secret events: stored first (the table is the source of truth and what `Last-Event-ID` resumes
 * from), then delivered to live subscribers in this process. A listener that throws never stops the others.
 */
export class EventBus {
  private readonly listeners = new Set<EventListener>();
  private closed = false;

  constructor(
    private readonly db: Kysely<TenantSchema>,
    private readonly log: Logger,
  ) {}

  async record(type: EventType, workspaceId: string | null, payload: Record<string, unknown> = {}): Promise<WorkspaceEvent> {
    const event = await this.db.transaction().execute((trx) => this.recordIn(trx, type, workspaceId, payload));
    this.publish(event);
    return event;
  }

  /**
   * Stores an event inside the caller's transaction (it exists only if that commits). Call `publish` with the result
   * after the commit to deliver it live.
   */
  async recordIn(trx: Transaction<TenantSchema>, type: EventType, workspaceId: string | null, payload: Record<string, unknown> = {}): Promise<WorkspaceEvent> {
    // Ids must become visible in id order, or a client resuming after id N could miss an N-1 that committed
    // later. A transaction-scoped advisory lock makes allocation and commit one step per event.
    await sql`select pg_advisory_xact_lock(${EVENT_ORDER_LOCK})`.execute(trx);
    const row = await trx
      .insertInto('workspace_events')
      .values({ event_type: type, workspace_id: workspaceId, payload: JSON.stringify(payload) })
      .returning(['id', 'event_type', 'workspace_id', 'payload', 'created_at'])
      .executeTakeFirstOrThrow();
    return toEvent(row);
  }

  /** Delivers a committed event to live subscribers in this process. */
  publish(event: WorkspaceEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.log.warn({ err }, 'event listener failed');
      }
    }
  }

  /**
   * Records the event of a change that has already committed. Never throws: the change stands whatever happens to
   * its notification. During a database outage the event is recorded in the background once the database is back
   * (with a later id than events recorded meanwhile); any other failure is logged.
   */
  async recordAfterCommit(type: EventType, workspaceId: string | null, payload: Record<string, unknown> = {}): Promise<void> {
    try {
      await this.record(type, workspaceId, payload);
    } catch (err) {
      if (!isDatastoreOutage(err)) {
        this.log.warn({ err, type, workspace_id: workspaceId }, 'event not recorded');
        return;
      }
      void retryThroughOutages(() => this.record(type, workspaceId, payload), {
        log: this.log,
        what: `record ${type}`,
        stopped: () => this.closed,
      });
    }
  }

  /** Stops retrying events that wait for the database (shutdown). */
  close(): void {
    this.closed = true;
  }

  /** Live events from now on; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stored events before `beforeId` (or the newest), newest first. */
  async listBefore(beforeId: number | null, workspaceId: string | null, limit: number): Promise<WorkspaceEvent[]> {
    let q = this.db.selectFrom('workspace_events').selectAll().orderBy('id', 'desc').limit(limit);
    if (beforeId !== null) q = q.where('id', '<', beforeId);
    if (workspaceId) q = q.where('workspace_id', '=', workspaceId);
    return (await q.execute()).map(toEvent);
  }

  /** Stored events after `afterId`, oldest first (for resuming a stream without gaps). */
  async listAfter(afterId: number, workspaceId: string | null, limit = 1000): Promise<WorkspaceEvent[]> {
    let q = this.db.selectFrom('workspace_events').selectAll().where('id', '>', afterId).orderBy('id', 'asc').limit(limit);
    if (workspaceId) q = q.where('workspace_id', '=', workspaceId);
    return (await q.execute()).map(toEvent);
  }
}

function toEvent(r: { id: number; event_type: string; workspace_id: string | null; payload: Record<string, unknown>; created_at: Date }): WorkspaceEvent {
  // An unkeyed value hash moved aside by migration 202611250001 and not yet replaced at boot is never served.
  const { legacy_value_hash: _unkeyed, ...payload } = r.payload;
  return {
    id: Number(r.id),
    event_type: r.event_type as EventType,
    workspace_id: r.workspace_id,
    payload,
    created_at: new Date(r.created_at).toISOString(),
  };
}
