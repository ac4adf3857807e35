import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { SlugParams } from '../../orgs/schemas.js';
import { RedeployRequest, RedeployResponse } from '../schemas.js';
import { redeployTenant } from '../service.js';

export default function redeployTenantRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/admin/tenants/:slug/redeploy',
    {
      schema: {
        operationId: 'adminRedeployTenant',
        tags: ['admin'],
        summary: "Restart one org's tenant with the current build, admin token and config",
        description:
          'Waits until the new process answers /health: 200 `{slug, ok, healthz_ok, pid}` (`ok: false` with `error` when it did not come back). ' +
          '`dry_run: true` → 200 `{dry_run: true, would: "restart"}`, nothing done. 503 PROVISIONER_UNAVAILABLE when no provisioner runs tenants here.',
        security: [{ cpAdmin: [] }],
        params: SlugParams,
        body: RedeployRequest,
        response: { 200: RedeployResponse, ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND', 'PROVISIONER_UNAVAILABLE') },
      },
    },
    async (request) => redeployTenant(ctx, request.params.slug, request.body.dry_run ?? false),
  );
}
