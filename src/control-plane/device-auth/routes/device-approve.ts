import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { Slug } from '../../orgs/schemas.js';
import { findMembershipBySlug } from '../../orgs/store.js';
import { displayUserCode, hashUserCode } from '../codes.js';
import { decideUserCode, limitCodeGuessing } from '../service.js';
import { normalizedOrInvalid, UserCodeInput } from './device-pending.js';

export const DeviceDecisionRequest = Type.Object(
  {
    user_code: UserCodeInput,
    decision: Type.Unsafe<'approve' | 'deny'>({ type: 'string', enum: ['approve', 'deny'], 'x-error': 'must be one of approve, deny' }),
    org_slug: Type.Optional(Slug),
  },
  { additionalProperties: false },
);
export type DeviceDecisionRequest = Static<typeof DeviceDecisionRequest>;

export const DeviceDecision = Type.Object({
  user_code: Type.String(),
  decision: Type.Unsafe<'approve' | 'deny'>({ type: 'string', enum: ['approve', 'deny'] }),
  client_name: Type.String(),
  org_slug: Type.Union([Type.String(), Type.Null()], { description: 'The org the device will use (approvals only).' }),
});
export type DeviceDecision = Static<typeof DeviceDecision>;

/**
 * The console's approval page decides a device authorization for the signed-in user. The decision hands out a
 * session, so beyond the session tier's Origin check a browser request must come from the CP's own origin (not a
 * tenant host, which serves content of its own); a request without Origin is not browser-driven, as elsewhere.
 */
export default function deviceApproveRoute(app: App, ctx: ControlPlaneContext) {
  const own = new URL(ctx.publicUrl).origin;
  app.post(
    '/auth/device/approve',
    {
      schema: {
        operationId: 'decideDeviceAuthorization',
        tags: ['auth'],
        summary: 'Approve or deny a device authorization (the console’s /device page)',
        description:
          'Approve: the polling client (POST /auth/device/token) gets a new session of the signed-in user, with `org_slug` (one of the user’s orgs; another is 404) as its org. ' +
          'Deny: it gets access_denied. An unknown, expired or already decided code is 400 DEVICE_USER_CODE_INVALID. ' +
          'Counts against the same guessing limits as GET /auth/device/pending. A browser must send the CP’s own Origin.',
        security: [{ session: [] }],
        body: DeviceDecisionRequest,
        response: {
          200: DeviceDecision,
          ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'ORG_NOT_FOUND', 'DEVICE_USER_CODE_INVALID', 'RATE_LIMITED'),
        },
      },
    },
    async (request, reply) => {
      const origin = request.headers.origin;
      if (origin !== undefined && origin !== own) throw new DomainError('ORIGIN_FORBIDDEN', `device approvals are made on ${own} only: origin ${origin} is not allowed`);
      const principal = request.principal as SessionPrincipal;
      await limitCodeGuessing(ctx, request, reply, principal.userId);
      const normalized = normalizedOrInvalid(request.body.user_code);
      const approve = request.body.decision === 'approve';
      const orgSlug = approve ? request.body.org_slug ?? null : null;
      if (orgSlug !== null && !(await findMembershipBySlug(ctx.db, orgSlug, principal.userId))) {
        throw new DomainError('ORG_NOT_FOUND', `org ${orgSlug} not found among your organizations`);
      }
      const decided = await decideUserCode(ctx, hashUserCode(normalized), { approve, userId: principal.userId, orgSlug }, auditEventForReply(reply, 200));
      if (!decided) throw new DomainError('DEVICE_USER_CODE_INVALID');
      request.auditWritten = true;
      return { user_code: displayUserCode(normalized), decision: request.body.decision, client_name: decided.client_name, org_slug: orgSlug };
    },
  );
}
