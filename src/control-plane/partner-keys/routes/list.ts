import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { PARTNER_KEY_ERRORS } from '../errors.js';
import { ListPartnerKeysQuery, PartnerKey } from '../schemas.js';
import { listScopeOf, presentPartnerKey } from '../service.js';
import { listPartnerKeys } from '../store.js';

export default function listPartnerKeysRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/admin/partner-keys',
    {
      schema: {
        operationId: 'listPartnerKeys',
        tags: ['partner-keys'],
        summary: 'Partner API keys, newest first (never the key)',
        description:
          'The CP admin sees every key (`partner_id` filters); a partner key with `admin:keys` sees its partner’s keys (an org-bound key: those bound to its org), whatever `partner_id` says. Revoked keys only with `include_revoked=true`.',
        security: [{ cpAdmin: [] }, { partnerKey: [] }],
        querystring: ListPartnerKeysQuery,
        response: { 200: Type.Array(PartnerKey), ...errorResponses(...ADMIN_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED') },
      },
      config: { partnerScope: 'admin:keys' },
    },
    async (request) => {
      const { partner_id, include_revoked = false, limit = 100 } = request.query;
      const rows = await listPartnerKeys(ctx.db, { ...listScopeOf(request.principal!, partner_id), includeRevoked: include_revoked, limit });
      return rows.map(presentPartnerKey);
    },
  );
}
