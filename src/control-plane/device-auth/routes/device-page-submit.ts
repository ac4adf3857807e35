import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import { ERROR_CODES } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { Text } from '../../../core/http/input.js';
import { paragraph, sendPage } from '../../billing/html.js';
import { pagePrincipal } from '../../billing/pages.js';
import type { ControlPlaneContext } from '../../context.js';
import { findMembershipBySlug, listOrgsOfUser } from '../../orgs/store.js';
import { displayUserCode, hashUserCode, normalizeUserCode, USER_CODE_INPUT_PATTERN } from '../codes.js';
import { APPROVE_TITLE, approvalBody, assertDeviceFormOrigin, codeEntryBody } from '../pages.js';
import { decideUserCode, limitCodeGuessing } from '../service.js';
import { findPendingByUserCode } from '../store.js';

export const DeviceDecisionForm = Type.Object(
  {
    user_code: Type.String({ pattern: USER_CODE_INPUT_PATTERN, 'x-error': 'must be the 8-letter code your device shows, like BCDF-GHJK' }),
    decision: Type.Union([Type.Literal('approve'), Type.Literal('deny')], { 'x-error': 'must be one of approve, deny' }),
    org_slug: Type.Optional(Text({ maxLength: 100, description: 'Empty: no particular org.' })),
  },
  { additionalProperties: false },
);
export type DeviceDecisionForm = Static<typeof DeviceDecisionForm>;

/**
 * The approval page's form: approves (with the org picked, if any) or denies a live code for the signed-in user,
 * the decision and its audit event in one transaction. CSRF: the session cookie (SameSite=Lax) and the CP's own
 * origin in Origin/Referer (assertDeviceFormOrigin).
 */
export default function devicePageSubmitRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/device',
    {
      schema: {
        hide: true,
        operationId: 'devicePageDecide',
        tags: ['auth'],
        summary: 'HTML form: approve or deny a device authorization',
        body: DeviceDecisionForm,
      },
    },
    async (request, reply) => {
      const principal = await pagePrincipal(ctx, request);
      assertDeviceFormOrigin(ctx, request);
      await limitCodeGuessing(ctx, request, reply, principal.userId);
      const normalized = normalizeUserCode(request.body.user_code);
      if (normalized === null) return sendPage(reply, ctx, 400, APPROVE_TITLE, codeEntryBody(request.body.user_code.trim(), ERROR_CODES.DEVICE_USER_CODE_INVALID.message));
      const userCode = displayUserCode(normalized);
      const userCodeHash = hashUserCode(normalized);
      const pending = await findPendingByUserCode(ctx.db, userCodeHash, new Date());
      if (!pending) return sendPage(reply, ctx, 400, APPROVE_TITLE, codeEntryBody(userCode, ERROR_CODES.DEVICE_USER_CODE_INVALID.message));

      const approve = request.body.decision === 'approve';
      const orgSlug = approve ? request.body.org_slug?.trim() || null : null;
      if (orgSlug !== null && !(await findMembershipBySlug(ctx.db, orgSlug, principal.userId))) {
        // Not an org of theirs (or none at all): 404, as anywhere else, and the form again to pick another.
        const orgs = await listOrgsOfUser(ctx.db, principal.userId);
        return sendPage(reply, ctx, 404, APPROVE_TITLE, approvalBody(pending, userCode, principal.session.email, orgs, `org ${orgSlug} not found among your organizations`));
      }

      const decided = await decideUserCode(ctx, userCodeHash, { approve, userId: principal.userId, orgSlug }, auditEventForReply(reply, 200));
      // Decided meanwhile by another tab, or expired between the look-up and the decision.
      if (!decided) return sendPage(reply, ctx, 400, APPROVE_TITLE, codeEntryBody(userCode, ERROR_CODES.DEVICE_USER_CODE_INVALID.message));
      request.auditWritten = true;
      if (!approve) {
        return sendPage(reply, ctx, 200, 'Device denied', paragraph(`${decided.client_name} was denied: it gets no access, and its code ${userCode} is no longer usable.`));
      }
      const where = orgSlug ? ` and will use the organization ${orgSlug}` : '';
      return sendPage(
        reply,
        ctx,
        200,
        'Device approved',
        paragraph(`${decided.client_name} is signed in as ${principal.session.email}${where}. You can close this page and return to your device.`),
      );
    },
  );
}
