import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { OrgTokenId } from '../schemas.js';
import { revokeOrgTokenById } from '../service.js';

export default function revokeOrgTokenRoute(app: App, ctx: TenantContext) {
  app.delete(
    '/org/tokens/:id',
    {
      config: { minRole: 'admin', validationError: 'invalid token id' },
      schema: {
        operationId: 'revokeOrgToken',
        tags: ['org-tokens'],
        summary: 'Revoke an org API key',
        description: 'Effective on the next request, on every replica. A key may revoke itself. Unknown or already revoked → 404. A retiring key (replaced by a rotation) may revoke only itself; any other key → 403 `KEY_RETIRING`.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: Type.Object({ id: OrgTokenId }),
        response: { 200: Type.Object({ revoked: Type.String() }), ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'TOKEN_NOT_FOUND', 'INVALID_ADMIN_AUTH', 'KEY_RETIRING') },
      },
    },
    async (request, reply) => {
      await revokeOrgTokenById(ctx.db, request.principal!, request.params.id, auditEventForReply(reply, 200));
      request.auditWritten = true;
      // Its open event streams end now, not at their next re-verification.
      ctx.streams.credentialRevoked(request.params.id);
      return { revoked: request.params.id };
    },
  );
}
