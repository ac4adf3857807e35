import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { SlugParams } from '../../orgs/schemas.js';
import { RotatedAdminToken } from '../schemas.js';
import { rotateAdminToken } from '../service.js';

export default function rotateAdminTokenRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/admin/orgs/:slug/admin-token/rotate',
    {
      schema: {
        operationId: 'adminRotateTenantAdminToken',
        tags: ['admin'],
        summary: "Rotate an org's tenant admin token and restart its tenant with the new one",
        description:
          'Mints a new token (the old one stops working at the control plane at once), then restarts the tenant with it and waits for /health (the old one stops working there too). ' +
          '503 PROVISIONER_UNAVAILABLE, before anything changes, when no provisioner runs tenants here; 503 TENANT_NOT_READY while the org is still provisioning; ' +
          '404 ADMIN_TOKEN_NOT_FOUND when there is no token to rotate. If the restart fails after the mint: 502 TENANT_RESTART_FAILED with `token_rotated: true` — the new ' +
          'token is stored (GET …/admin-token reveals it) and POST /admin/tenants/{slug}/redeploy finishes the job.',
        security: [{ cpAdmin: [] }],
        params: SlugParams,
        response: {
          200: RotatedAdminToken,
          ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND', 'ADMIN_TOKEN_NOT_FOUND', 'TENANT_RESTART_FAILED', 'PROVISIONER_UNAVAILABLE'),
        },
      },
    },
    async (request) => rotateAdminToken(ctx, request.params.slug),
  );
}
