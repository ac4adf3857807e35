import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { SlugParams } from '../../orgs/schemas.js';
import { findInstance } from '../../orgs/store.js';
import { TenantDiagnosticsResponse } from '../schemas.js';
import { provisionRequestOf, requireOrg } from '../service.js';

const iso = (t: Date | string | null) => (t === null ? null : new Date(t).toISOString());

export default function tenantDiagnosticsRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/admin/tenants/:slug/diagnostics',
    {
      schema: {
        operationId: 'adminTenantDiagnostics',
        tags: ['admin'],
        summary: "One tenant's state: its instance row, its process (from the provisioner) and its latest boot events",
        description: '`process` is null when the provisioner runs nothing for the org (or could not say). Read-only.',
        security: [{ cpAdmin: [] }],
        params: SlugParams,
        response: { 200: TenantDiagnosticsResponse, ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND') },
      },
    },
    async (request) => {
      const org = await requireOrg(ctx, request.params.slug);
      const [instance, events] = await Promise.all([
        findInstance(ctx.db, org.id),
        ctx.db.selectFrom('org_instance_boot_events').select(['stage', 'detail', 'at']).where('org_id', '=', org.id).orderBy('id', 'desc').limit(20).execute(),
      ]);
      let processInfo = null;
      try {
        processInfo = await ctx.provisioner.diagnostics(provisionRequestOf(org));
      } catch (err) {
        // Diagnostics are for when things are wrong: a provisioner that cannot answer must not hide the rest.
        ctx.log.warn({ err, org: org.slug }, 'the provisioner could not report diagnostics');
      }
      return {
        slug: org.slug,
        org_id: org.id,
        instance: instance
          ? { status: instance.status, stage: instance.stage, url: instance.url, last_error: instance.last_error, restarts: instance.restarts, started_at: iso(instance.started_at) }
          : null,
        process: processInfo,
        boot_events: events.map((e) => ({ stage: e.stage, detail: e.detail, at: new Date(e.at).toISOString() })),
      };
    },
  );
}
