import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { presentOrg } from '../present.js';
import { Organization } from '../schemas.js';
import { listOrgsOfUser, listPartnerOrgs } from '../store.js';
import { isPartnerPrincipal } from '../../partner-keys/auth.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';

export default function listOrgsRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/orgs',
    {
      schema: {
        operationId: 'listOrgs',
        tags: ['orgs'],
        summary: 'The orgs the caller belongs to (a bare array, oldest first)',
        description: 'With a partner key (scope `orgs:read`, alias `orgs:list`): its partner’s orgs — only its own org for an org-bound key.',
        security: [{ session: [] }, { partnerKey: [] }],
        response: { 200: Type.Array(Organization), ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS) },
      },
      config: { partnerScope: 'orgs:read' },
    },
    async (request) => {
      const caller = request.principal;
      if (isPartnerPrincipal(caller)) return (await listPartnerOrgs(ctx.db, caller.partnerId, caller.orgId)).map((r) => presentOrg(r));
      const principal = request.principal as SessionPrincipal;
      const rows = await listOrgsOfUser(ctx.db, principal.userId);
      return rows.map((r) => presentOrg(r, r.role));
    },
  );
}
