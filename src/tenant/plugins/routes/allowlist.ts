import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { AllowlistBody, AllowlistEntry, OrgIdParams } from '../schemas.js';
import { checkAllowlistBody, getAllowlist, putAllowlist, requireThisOrg } from '../service.js';

const security: Array<Record<string, string[]>> = [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }];
const ID_NOTE = '`:id` is this tenant’s org id (MOLECULE_ORG_ID) or one of its root workspace ids (the reference’s key); anything else → 404 `org not found`.';

export function getPluginAllowlistRoute(app: App, ctx: TenantContext) {
  app.get(
    '/orgs/:id/plugins/allowlist',
    {
      config: { minRole: 'reader', orgWide: true },
      schema: {
        operationId: 'getPluginAllowlist',
        tags: ['plugins'],
        summary: 'The org’s plugin allowlist',
        description: `The reference’s body (§3.14): entries by name; \`allow_all\` is true when the list is empty (every catalog plugin may be installed). ${ID_NOTE}`,
        security,
        params: OrgIdParams,
        response: {
          200: Type.Object({ org_id: Type.String(), plugins: Type.Array(AllowlistEntry), allow_all: Type.Boolean() }),
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND', 'SCOPE_EXCEEDED', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request) => {
      const orgId = await requireThisOrg(ctx.db, ctx.config, request.params.id);
      const plugins = await getAllowlist(ctx.db);
      return { org_id: orgId, plugins, allow_all: plugins.length === 0 };
    },
  );
}

export function putPluginAllowlistRoute(app: App, ctx: TenantContext) {
  app.put(
    '/orgs/:id/plugins/allowlist',
    {
      config: { minRole: 'admin', orgWide: true, validationError: 'invalid request body' },
      schema: {
        operationId: 'putPluginAllowlist',
        tags: ['plugins'],
        summary: 'Replace the org’s plugin allowlist',
        description:
          'A full replace (duplicates ignored), audited in its transaction. It governs installs into every workspace of the org, however deep. ' +
          'No `enabled_by` → 400 `enabled_by is required`; a bad name → 400 `{"error":"invalid plugin name","plugin_name","detail"}`; nothing is written for either. ' +
          `An empty list means allow all (the reference’s meaning). ${ID_NOTE}`,
        security,
        params: OrgIdParams,
        body: AllowlistBody,
        response: {
          200: Type.Object({ org_id: Type.String(), plugins: Type.Array(Type.String()), allow_all: Type.Boolean() }),
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND', 'SCOPE_EXCEEDED', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request, reply) => {
      const { plugins, enabledBy } = checkAllowlistBody(request.body);
      const orgId = await requireThisOrg(ctx.db, ctx.config, request.params.id);
      await putAllowlist(ctx.db, plugins, enabledBy, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { org_id: orgId, plugins, allow_all: plugins.length === 0 };
    },
  );
}
