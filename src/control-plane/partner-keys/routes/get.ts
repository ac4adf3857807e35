import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { PARTNER_KEY_ERRORS } from '../errors.js';
import { PartnerKey, PartnerKeyParams } from '../schemas.js';
import { presentPartnerKey, visibleKey } from '../service.js';

export default function getPartnerKeyRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/admin/partner-keys/:id',
    {
      schema: {
        operationId: 'getPartnerKey',
        tags: ['partner-keys'],
        summary: 'One partner API key (never the key)',
        description: 'A key may read itself without `admin:keys`; a key it cannot see (another partner’s, or outside its org binding) is 404.',
        security: [{ cpAdmin: [] }, { partnerKey: [] }],
        params: PartnerKeyParams,
        response: { 200: PartnerKey, ...errorResponses(...ADMIN_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'NOT_FOUND') },
      },
      config: { partnerScope: 'admin:keys', partnerSelf: true },
    },
    async (request) => presentPartnerKey(await visibleKey(ctx, request.principal!, request.params.id)),
  );
}
