import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { presentOrg } from '../present.js';
import { Organization } from '../schemas.js';
import { listOrgsOfUser } from '../store.js';

export default function listOrgsRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/orgs',
    {
      schema: {
        operationId: 'listOrgs',
        tags: ['orgs'],
        summary: 'The orgs the caller belongs to (a bare array, oldest first)',
        security: [{ session: [] }],
        response: { 200: Type.Array(Organization), ...errorResponses(...SESSION_ERRORS) },
      },
    },
    async (request) => {
      const principal = request.principal as SessionPrincipal;
      const rows = await listOrgsOfUser(ctx.db, principal.userId);
      return rows.map((r) => presentOrg(r, r.role));
    },
  );
}
