import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { exportOrg, exportYaml } from '../export.js';

export default function exportOrgRoute(app: App, ctx: TenantContext) {
  app.get(
    '/org/export',
    {
      // The whole tree: a key confined to some workspaces may not read it.
      config: { minRole: 'reader', orgWide: true },
      schema: {
        operationId: 'exportOrg',
        tags: ['org-import'],
        summary: 'Export the org as an org template',
        description:
          'The live workspace tree as org-template YAML (`application/yaml`; `?format=json` for the same as JSON) that POST /org/import turns back into the same tree: name, role, tier, runtime, model, template, external and url, prompts, plugins (declared, and installed ones too, so an import installs them again), canvas, channels (credential fields as `${VAR}` placeholders), children. Never a secret, a token, a status or an id.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal('yaml'), Type.Literal('json')], { default: 'yaml' })) }),
        response: errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_ADMIN_AUTH'),
      },
    },
    async (request, reply) => {
      const template = await exportOrg(ctx.db, ctx.config.MOLECULE_ORG_SLUG ?? 'org');
      if (request.query.format === 'json') return reply.type('application/json').send(template as never);
      return reply.type('application/yaml; charset=utf-8').send(exportYaml(template) as never); // YAML text, not a schema-shaped object
    },
  );
}
