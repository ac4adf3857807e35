import type { FastifyRequest } from 'fastify';
import { auditEventForReply } from '../../../core/audit/request.js';
import { ValidationError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { assertTreeWithinLimits, inlineTemplate, loadOrgTemplateDir, parseOrgYamlBody } from '../loader.js';
import { OrgImportPlanResponse, OrgImportQuery, OrgImportRequest, OrgImportResponse } from '../schemas.js';
import { importOrg, planOrgImport } from '../service.js';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

export default function importOrgRoute(app: App, ctx: TenantContext) {
  // Its own scope: the YAML body parser serves this route only (every other route stays JSON-only).
  void app.register(async (scope) => {
    // curl users send the org.yaml itself: it becomes `{template}`, and mode and dry_run come from the query string.
    scope.addContentTypeParser(YAML_TYPES, { parseAs: 'buffer' }, (_req, body, done) => {
      try {
        done(null, { template: parseOrgYamlBody(body as Buffer) });
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    (scope as unknown as App).post(
      '/org/import',
      {
        config: { minRole: 'admin', orgWide: true, validationError: 'invalid request body' },
        // Counted before the schema walks the body: a 10,000-node tree is 413, whatever its shape.
        preValidation: async (request: FastifyRequest) => assertTreeWithinLimits((request.body as { template?: unknown } | undefined)?.template),
        schema: {
          operationId: 'importOrg',
          tags: ['org-import'],
          summary: 'Import an org template',
          description:
            'Creates the template’s workspace tree: `dir` (a folder under ORG_TEMPLATES_DIR or a built-in example) or an inline `template`; or send the YAML itself with `Content-Type: application/yaml` (no `!include`). A workspace that already exists under the same parent with the same name is `skipped`; `mode=reconcile` also removes, under each parent the file names, the live workspaces it no longer lists (with their subtrees and tokens). Every record is written in one transaction (a failure creates nothing); runtimes start after it. The declared `plugins` of each created workspace are installed with it when the catalog has them and the org allowlist permits them (`plugins_installed`); the others are listed in `plugins_skipped` with the reason, never a failure; the allowlist unreadable → 503, nothing written. 201; 207 (with `error`) when some runtimes failed to start; 412 when a `required_env` is not an org-wide secret. `?dry_run=true` answers 200 with the plan (`create`/`skip`/`remove` per workspace, with the plugins each creation would install or skip) and the preflight, changing nothing.',
          security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
          body: OrgImportRequest,
          querystring: OrgImportQuery,
          response: {
            200: OrgImportPlanResponse,
            201: OrgImportResponse,
            207: OrgImportResponse,
            ...errorResponses(
              ...AUTH_ERRORS,
              'VALIDATION_FAILED',
              'INVALID_JSON',
              'ORG_TEMPLATE_INVALID',
              'ORG_TEMPLATE_NOT_FOUND',
              'ORG_REQUIRED_ENV_MISSING',
              'ORG_TEMPLATE_TOO_LARGE',
              'UNSUPPORTED_MEDIA_TYPE',
              'INVALID_ADMIN_AUTH',
              'CONFLICT',
            ),
          },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const mode = (body.mode || request.query.mode || 'merge') === 'reconcile' ? 'reconcile' : 'merge';
        let loaded;
        if (body.dir !== undefined) loaded = await loadOrgTemplateDir(ctx.config, body.dir);
        else if (body.template !== undefined) loaded = inlineTemplate(body.template);
        else throw new ValidationError("provide 'dir' or 'template'");
        if (request.query.dry_run) return reply.code(200).send(await planOrgImport(ctx, loaded, mode));
        // The audit event is written with the records, so it records the commit (201); whether some runtimes then
        // fail to start (207) is only known after it, and is in the org.import.completed event.
        const result = await importOrg(ctx, request.principal!, loaded, mode, auditEventForReply(reply, 201));
        request.auditWritten = true;
        return reply.code(result.status).send(result.body);
      },
    );
  });
}
