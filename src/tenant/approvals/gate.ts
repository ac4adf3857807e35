import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../core/auth/principal.js';
import { DatastoreUnavailableError, DomainError } from '../../core/errors.js';
import { isUuid } from '../../core/ids.js';
import { approvalPolicyOf, type GateableAction } from '../config.js';
import type { TenantContext } from '../context.js';
import type { PendingApprovalReply } from './schemas.js';
import { createApproval } from './service.js';
import { consumeApproved, findPendingByHash } from './store.js';

/**
 * The approval gate (reference §6.6, made stricter). A gated request changes nothing: it answers 202
 * `pending_approval` and records an approval for a human. Once another principal approves it, the *identical* request
 * — same method, route, workspace, principal and context, including a keyed hash of any secret value (never the value)
 * — runs exactly once. The reference hashed the key but not the value, so one approval authorised any value (§6.6).
 *
 * Who is gated: a key minted with `approval_required` for every gated action and every DELETE; otherwise the actions in
 * APPROVAL_GATED_ACTIONS for the credential classes in APPROVAL_GATED_CLASSES. A datastore error fails closed (503).
 */

/** `delete`: any DELETE route, gated only for approval-required keys (the generic hook below). */
export type GatedAction = GateableAction | 'delete';

export interface GateRequest {
  action: GatedAction;
  /** The workspace the approval is filed under (its events, its approvers); null for org-wide actions. */
  workspaceId: string | null;
  /** One line for the approver. */
  reason: string;
  /** What the approver is shown and what the hash covers. Secret values only as `value_hash` (cipher.valueHash). */
  context: Record<string, unknown>;
  /** Covered by the hash but never stored or shown: a secret value's full keyed digest (cipher.valueDigest). */
  binding?: Record<string, string>;
}

export function isGated(ctx: Pick<TenantContext, 'config'>, principal: Principal, action: GatedAction): boolean {
  if (principal.approvalRequired) return true;
  if (action === 'delete') return false;
  const policy = approvalPolicyOf(ctx.config);
  return policy.actions.has(action) && policy.classes.has(principal.class);
}

/** Canonical JSON (sorted keys), so the same request always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function requestHash(principal: Principal, method: string, route: string, gate: GateRequest): string {
  const material = { action: gate.action, method, route, workspace_id: gate.workspaceId, requested_by: principal.actor, context: gate.context, binding: gate.binding ?? {} };
  return createHash('sha256').update(canonical(material)).digest('hex');
}

/**
 * Call at the top of a gated handler (after validation, before any write). Returns the 202 body to send when the
 * request is held back, or null when it may proceed (not gated, or it has just used its approval).
 */
export async function approvalGate(ctx: TenantContext, request: FastifyRequest, gate: GateRequest): Promise<PendingApprovalReply | null> {
  const principal = request.principal;
  if (!principal || !isGated(ctx, principal, gate.action)) return null;
  const hash = requestHash(principal, request.method, request.routeOptions.url ?? request.url, gate);
  try {
    if (await consumeApproved(ctx.db, hash)) return null;
    // Reuses a pending approval of the same request (checked again under a lock inside createApproval).
    const row =
      (await findPendingByHash(ctx.db, hash)) ??
      (await createApproval(
        { db: ctx.db, events: ctx.events, ttlSeconds: approvalPolicyOf(ctx.config).ttlSeconds },
        principal,
        { workspaceId: gate.workspaceId, action: gate.action, reason: gate.reason, context: { ...gate.context, method: request.method, route: request.routeOptions.url }, requestHash: hash },
        null,
      ));
    return { status: 'pending_approval', approval_id: row.id, action: row.action, reason: row.reason };
  } catch (err) {
    // A workspace that is not there is the caller's 404; anything else from the datastore refuses (never passes).
    if (err instanceof DomainError) throw err;
    throw new DatastoreUnavailableError(err);
  }
}

/** Sends the gate's 202 when it held the request back; true when it did. */
export async function holdForApproval(ctx: TenantContext, request: FastifyRequest, reply: FastifyReply, gate: GateRequest): Promise<boolean> {
  const pending = await approvalGate(ctx, request, gate);
  if (!pending) return false;
  await reply.code(202).send(pending);
  return true;
}

/**
 * Every DELETE an approval-required key attempts needs an approval, on every route of the admin and workspace tiers —
 * present and future — so a new delete route is covered without remembering to. A route that gates itself with a
 * more specific action (workspace delete) says so with `config.gatedInHandler`.
 */
export function approvalRequiredDeleteHook(ctx: TenantContext) {
  return async function gateDeletes(request: FastifyRequest, reply: FastifyReply) {
    const principal = request.principal;
    if (request.method !== 'DELETE' || !principal?.approvalRequired || request.routeOptions.config.gatedInHandler) return;
    const params = (request.params ?? {}) as Record<string, unknown>;
    const id = typeof params['id'] === 'string' ? params['id'].toLowerCase() : '';
    const workspaceId = isUuid(id) && request.routeOptions.url?.startsWith('/workspaces/') ? id : null;
    const gate: GateRequest = {
      action: 'delete',
      workspaceId,
      reason: `${request.method} ${request.url.split('?')[0]}`,
      context: { params, query: request.query ?? {} },
    };
    const pending = await approvalGate(ctx, request, gate);
    if (pending) return reply.code(202).send(pending);
  };
}
