import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';
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
        description: 'With a partner key (scope `orgs:read`): one of its partner’s orgs; any other org is 404.',
        security: [{ session: [] }, { partnerKey: [] }],
        params: SlugParams,
        response: { 200: Organization, ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND') },
      },
      config: { partnerScope: 'orgs:read' },
    },
    async (request) => {
      const org = await requireOrgRole(ctx, request.principal, request.params.slug, 'member', 'read this org');
      return presentOrg(org, org.role);
    },
  );
}
