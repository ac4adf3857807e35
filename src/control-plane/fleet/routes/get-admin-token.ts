import type { App } from '../../../core/http/app.js';
import { DomainError } from '../../../core/errors.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { SlugParams } from '../../orgs/schemas.js';
import { AdminTokenResponse } from '../schemas.js';
import { requireOrg } from '../service.js';

export default function getAdminTokenRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/admin/orgs/:slug/admin-token',
    {
      schema: {
        operationId: 'adminGetTenantAdminToken',
        tags: ['admin'],
        summary: "Reveal an org's tenant admin token (plaintext)",
        description:
          "The tenant's ADMIN_TOKEN, decrypted from the control plane's store. 404 ADMIN_TOKEN_NOT_FOUND until provisioning has minted one " +
          '(reference callers poll every 2–5 s); 404 ORG_NOT_FOUND for an unknown slug. The reveal is audited like every admin call.',
        security: [{ cpAdmin: [] }],
        params: SlugParams,
        response: { 200: AdminTokenResponse, ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND', 'ADMIN_TOKEN_NOT_FOUND') },
      },
    },
    async (request) => {
      const org = await requireOrg(ctx, request.params.slug);
      const token = await ctx.adminTokens.reveal(org.id);
      if (!token) throw new DomainError('ADMIN_TOKEN_NOT_FOUND', `org "${org.slug}" has no tenant admin token yet; it is minted when provisioning starts the tenant`);
      // The one place an operator gets a tenant's break-glass credential: handing it out is this route's purpose.
      return { slug: org.slug, admin_token: token };
    },
  );
}
