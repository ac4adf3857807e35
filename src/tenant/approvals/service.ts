import { sql, type Kysely } from 'kysely';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import type { Principal } from '../../core/auth/principal.js';
import { DomainError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { TenantContext } from '../context.js';
import type { TenantSchema } from '../db/schema.js';
import type { WorkspaceEvent } from '../events/bus.js';
import {
  decideApprovalRow,
  findApproval,
  findPendingByHash,
  insertApproval,
  liveWorkspaceParent,
  withdrawApprovalRow,
  type ApprovalRow,
  type ApprovalWithName,
} from './store.js';

type ApprovalDeps = Pick<TenantContext, 'db' | 'events'> & { ttlSeconds: number };

export type EffectiveStatus = ApprovalRow['status'] | 'expired';

/** Pending or approved-but-unused past `expires_at` reads `expired`: computed on read, no sweeper needed. */
export function effectiveStatus(row: Pick<ApprovalRow, 'status' | 'expires_at'>, now = Date.now()): EffectiveStatus {
  if ((row.status === 'pending' || row.status === 'approved') && new Date(row.expires_at).getTime() <= now) return 'expired';
  return row.status;
}

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

export function presentApproval(row: ApprovalRow) {
  return {
    id: row.id,
    task_id: row.task_id,
    action: row.action,
    reason: row.reason,
    status: effectiveStatus(row),
    decided_by: row.decided_by,
    decided_at: iso(row.decided_at),
    created_at: new Date(row.created_at).toISOString(),
    requested_by: row.requested_by,
    context: row.context,
    expires_at: new Date(row.expires_at).toISOString(),
    consumed_at: iso(row.consumed_at),
  };
}

export function presentApprovalWithWorkspace(row: ApprovalWithName) {
  return { ...presentApproval(row), workspace_id: row.workspace_id, workspace_name: row.workspace_name };
}

export function presentPending(row: ApprovalWithName) {
  return {
    id: row.id,
    workspace_id: row.workspace_id,
    workspace_name: row.workspace_name,
    action: row.action,
    reason: row.reason,
    status: effectiveStatus(row),
    created_at: new Date(row.created_at).toISOString(),
    requested_by: row.requested_by,
    context: row.context,
    expires_at: new Date(row.expires_at).toISOString(),
  };
}

/** A credential sees an approval when it sees its workspace; an org-wide approval only an unbound credential sees. */
export function canSeeApproval(principal: Principal, row: Pick<ApprovalRow, 'workspace_id'>): boolean {
  if (principal.workspaceIds === null) return true;
  return row.workspace_id !== null && principal.workspaceIds.includes(row.workspace_id);
}

export interface NewApprovalInput {
  workspaceId: string | null;
  action: string;
  reason: string;
  taskId?: string | undefined;
  context: Record<string, unknown>;
  requestHash: string | null;
}

/**
 * Records an approval and its APPROVAL_REQUESTED event (and APPROVAL_ESCALATED on the parent, reference §3.15) in one
 * transaction; the events are delivered live after the commit. A workspace approval needs a live workspace (404).
 */
export async function createApproval(deps: ApprovalDeps, principal: Principal, input: NewApprovalInput, audit: AuditEventInput | null): Promise<ApprovalRow> {
  const published: WorkspaceEvent[] = [];
  const row = await deps.db.transaction().execute(async (trx) => {
    if (input.requestHash !== null) {
      // One pending approval per request: concurrent identical gated requests queue here and find the first one's.
      await sql`select pg_advisory_xact_lock(hashtextextended(${input.requestHash}, 0))`.execute(trx);
      const existing = await findPendingByHash(trx, input.requestHash);
      if (existing) return existing;
    }
    let parentId: string | null = null;
    if (input.workspaceId !== null) {
      const ws = await liveWorkspaceParent(trx, input.workspaceId);
      if (!ws) throw new DomainError('WORKSPACE_NOT_FOUND');
      parentId = ws.parent_id;
    }
    const row = await insertApproval(trx, {
      id: newId('approval'),
      workspace_id: input.workspaceId,
      task_id: input.taskId ?? '',
      action: input.action,
      reason: input.reason,
      context: JSON.stringify(input.context),
      request_hash: input.requestHash,
      requested_by: principal.actor,
      expires_at: new Date(Date.now() + deps.ttlSeconds * 1000),
    });
    published.push(
      await deps.events.recordIn(trx, 'APPROVAL_REQUESTED', input.workspaceId, {
        approval_id: row.id,
        action: row.action,
        reason: row.reason,
        task_id: row.task_id,
        requested_by: row.requested_by,
        expires_at: new Date(row.expires_at).toISOString(),
      }),
    );
    if (parentId !== null) {
      published.push(
        await deps.events.recordIn(trx, 'APPROVAL_ESCALATED', parentId, {
          approval_id: row.id,
          from_workspace_id: input.workspaceId,
          action: row.action,
          reason: row.reason,
        }),
      );
    }
    if (audit) await appendAuditEvents(trx, [audit]);
    return row;
  });
  for (const e of published) deps.events.publish(e);
  return row;
}

/**
 * A human's decision (reference §3.15, fixed where §10.5 says it was weak): never a workspace token nor an
 * approval-required key, never the principal that asked (separation of duties), attributed to the deciding credential.
 * `workspaceId` is the path's workspace (the workspace route), or undefined (`POST /approvals/:id/decide`).
 */
export async function decideApproval(
  deps: ApprovalDeps,
  principal: Principal,
  approvalId: string,
  workspaceId: string | undefined,
  decision: 'approved' | 'denied',
  audit: AuditEventInput,
): Promise<ApprovalRow> {
  if (principal.class === 'workspace-token' || principal.approvalRequired) throw new DomainError('APPROVAL_DECIDER_FORBIDDEN');
  const published: WorkspaceEvent[] = [];
  const row = await deps.db.transaction().execute(async (trx) => {
    const current = await findApproval(trx, approvalId, { lock: true });
    if (!current || (workspaceId !== undefined && current.workspace_id !== workspaceId) || !canSeeApproval(principal, current)) {
      throw new DomainError('APPROVAL_ALREADY_DECIDED');
    }
    if (current.requested_by === principal.actor) throw new DomainError('APPROVAL_SELF_DECISION', undefined, { approval_id: approvalId });
    const row = await decideApprovalRow(trx, approvalId, decision, principal.actor, deps.ttlSeconds);
    if (!row) throw new DomainError('APPROVAL_ALREADY_DECIDED');
    published.push(
      await deps.events.recordIn(trx, decision === 'approved' ? 'APPROVAL_APPROVED' : 'APPROVAL_DENIED', row.workspace_id, {
        approval_id: row.id,
        decision,
        decided_by: principal.actor,
      }),
    );
    await appendAuditEvents(trx, [audit]);
    return row;
  });
  for (const e of published) deps.events.publish(e);
  return row;
}

/** The requester takes its request back (reference §3.15 [EO]): only from the approval's own workspace, only while pending. */
export async function withdrawApproval(deps: ApprovalDeps, principal: Principal, approvalId: string, workspaceId: string, audit: AuditEventInput): Promise<void> {
  const published: WorkspaceEvent[] = [];
  await deps.db.transaction().execute(async (trx) => {
    const current = await findApproval(trx, approvalId, { lock: true });
    if (!current || !canSeeApproval(principal, current)) throw new DomainError('APPROVAL_NOT_FOUND');
    if (current.workspace_id !== workspaceId) throw new DomainError('APPROVAL_NOT_REQUESTER');
    if (effectiveStatus(current) !== 'pending' || !(await withdrawApprovalRow(trx, approvalId, principal.actor))) {
      throw new DomainError('APPROVAL_NOT_PENDING');
    }
    published.push(await deps.events.recordIn(trx, 'APPROVAL_WITHDRAWN', workspaceId, { approval_id: approvalId, withdrawn_by: principal.actor }));
    await appendAuditEvents(trx, [audit]);
  });
  for (const e of published) deps.events.publish(e);
}

export async function getApproval(db: Kysely<TenantSchema>, principal: Principal, approvalId: string): Promise<ApprovalWithName> {
  const row = await findApproval(db, approvalId);
  if (!row || !canSeeApproval(principal, row)) throw new DomainError('APPROVAL_NOT_FOUND');
  return row;
}
