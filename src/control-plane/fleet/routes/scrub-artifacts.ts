import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { SlugParams } from '../../orgs/schemas.js';
import { findOrgBySlug } from '../../orgs/store.js';
import { ConfirmSlugRequest, ScrubResult } from '../schemas.js';
import { requireConfirmed } from './delete-tenant.js';

export default function scrubArtifactsRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/admin/tenants/:slug/scrub-artifacts',
    {
      schema: {
        operationId: 'adminScrubTenantArtifacts',
        tags: ['admin'],
        summary: "Remove what a deleted org's tenant left behind under its slug",
        description:
          '`{confirm: "<slug>"}` missing or different → 400. For leftovers of a deleted org only (a database, a data directory, a stray process the provisioner finds under the slug): ' +
          'a slug that a live org holds is 409 TENANT_STILL_LIVE, whatever its tenant’s state — delete the org instead. 200 `{slug, removed}` names what was removed (empty when nothing was left).',
        security: [{ cpAdmin: [] }],
        params: SlugParams,
        body: ConfirmSlugRequest,
        response: { 200: ScrubResult, ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED', 'TENANT_STILL_LIVE') },
      },
    },
    async (request) => {
      const { slug } = request.params;
      requireConfirmed(slug, request.body.confirm);
      const live = await findOrgBySlug(ctx.db, slug);
      if (live) throw new DomainError('TENANT_STILL_LIVE', `slug "${slug}" belongs to a live org (status ${live.status}); delete the org (DELETE /admin/tenants/${slug}) instead of scrubbing it`);
      const { removed } = await ctx.provisioner.scrubArtifacts(slug);
      return { slug, removed };
    },
  );
}
