import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { requireOrgRole } from '../access.js';
import { presentOrg } from '../present.js';
import { Organization, SlugParams } from '../schemas.js';

export default function getOrgRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/orgs/:slug',
    {
      schema: {
        operationId: 'getOrg',
        tags: ['orgs'],
        summary: 'One org (members only; anyone else gets 404)',
        security: [{ session: [] }],
        params: SlugParams,
        response: { 200: Organization, ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND') },
      },
    },
    async (request) => {
      const org = await requireOrgRole(ctx, request.principal, request.params.slug, 'member', 'read this org');
      return presentOrg(org, org.role);
    },
  );
}
