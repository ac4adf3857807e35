import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';
import { requireOrgRole } from '../access.js';
import { literalUnion, SlugParams } from '../schemas.js';
import { provisionStatusOf } from '../service.js';

export const ProvisionStatus = Type.Object({
  status: Type.Union([Type.Literal('provisioning'), Type.Literal('running'), Type.Literal('failed')]),
  stage: literalUnion(['launching', 'installing', 'starting', 'configuring_https', 'ready', 'failed'] as const),
  progress: Type.Integer({ minimum: 0, maximum: 100, description: 'Never decreases.' }),
  message: Type.String(),
  eta_seconds: Type.Integer({ minimum: 0, description: 'Never increases; 0 when done.' }),
  url: Type.Optional(Type.String({ description: 'The tenant’s URL, once running.' })),
});

export default function provisionStatusRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/orgs/:slug/provision-status',
    {
      schema: {
        operationId: 'getProvisionStatus',
        tags: ['orgs'],
        summary: 'How far the org’s tenant is from ready (members only)',
        description: 'With a partner key (scope `provision:status`): one of its partner’s orgs; any other org is 404.',
        security: [{ session: [] }, { partnerKey: [] }],
        params: SlugParams,
        response: { 200: ProvisionStatus, ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND') },
      },
      config: { partnerScope: 'provision:status' },
    },
    async (request) => {
      const org = await requireOrgRole(ctx, request.principal, request.params.slug, 'member', 'read provisioning status');
      return provisionStatusOf(ctx, org);
    },
  );
}
