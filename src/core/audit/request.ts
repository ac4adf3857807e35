import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditEventInput } from './chain.js';
import '../http/types.js';

/** The audit event for an authenticated request, from its principal and what the server answered. */
export function auditEventFor(request: FastifyRequest, status: number, durationMs: number): AuditEventInput {
  const p = request.principal;
  return {
    occurredAt: new Date(),
    actor: p?.actor ?? 'anonymous',
    credentialClass: p?.class ?? 'none',
    credentialId: p?.credentialId ?? null,
    method: request.method,
    route: request.routeOptions.url ?? 'unmatched',
    path: request.url.split('?')[0] ?? request.url,
    status,
    durationMs,
    requestId: request.id,
    // request.ip is undefined once the client's socket is gone (it hung up before the answer): the row still names
    // the peer as last known, never null (a null would fail the whole batch's insert).
    clientIp: request.ip ?? request.socket?.remoteAddress ?? 'unknown',
    ...(p?.partnerId ? { partnerId: p.partnerId } : {}),
  };
}

/** For a mutation that writes its event in its own transaction: the status it is about to send. */
export function auditEventForReply(reply: FastifyReply, status: number): AuditEventInput {
  return auditEventFor(reply.request, status, reply.elapsedTime);
}
