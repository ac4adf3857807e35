import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { PARTNER_KEY_ERRORS } from '../errors.js';
import { PartnerKeyParams } from '../schemas.js';
import { revokeKey } from '../service.js';

export default function revokePartnerKeyRoute(app: App, ctx: ControlPlaneContext) {
  app.delete(
    '/admin/partner-keys/:id',
    {
      schema: {
        operationId: 'revokePartnerKey',
        tags: ['partner-keys'],
        summary: 'Revoke a partner API key (204; the very next request with it is 401, on every replica)',
        description:
          'By the CP admin bearer; by the key itself (its own bearer, no scope needed); or by a partner key with `admin:keys` that can see it. ' +
          'Revoking an already revoked key changes nothing (204). There is no update: rotate by minting a new key, then revoking the old one.',
        security: [{ cpAdmin: [] }, { partnerKey: [] }],
        params: PartnerKeyParams,
        response: { 204: Type.Null({ description: 'Revoked.' }), ...errorResponses(...ADMIN_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'NOT_FOUND') },
      },
      config: { partnerScope: 'admin:keys', partnerSelf: true },
    },
    async (request, reply) => {
      await revokeKey(ctx, request.principal!, request.params.id, auditEventForReply(reply, 204));
      request.auditWritten = true;
      return reply.code(204).send(null);
    },
  );
}
