import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { listOrgTemplates } from '../loader.js';
import { envOf } from '../plan.js';
import { OrgTemplateSummary } from '../schemas.js';

function countNodes(nodes: Array<{ children?: unknown[] }>): number {
  let n = 0;
  const stack = [...nodes];
  while (stack.length > 0) {
    const node = stack.pop()!;
    n += 1;
    stack.push(...((node.children ?? []) as Array<{ children?: unknown[] }>));
  }
  return n;
}

export default function listOrgTemplatesRoute(app: App, ctx: TenantContext) {
  app.get(
    '/org/templates',
    {
      config: { minRole: 'reader' },
      schema: {
        operationId: 'listOrgTemplates',
        tags: ['org-import'],
        summary: 'List org templates',
        description:
          'The built-in examples and the templates under ORG_TEMPLATES_DIR (which shadow a built-in of the same `dir`): each folder’s `org.yaml` (or `org.yml`), includes expanded. Templates that do not load are skipped (and logged). Never empty: the built-ins ship with the server.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        response: { 200: Type.Array(OrgTemplateSummary), ...errorResponses(...AUTH_ERRORS, 'INVALID_ADMIN_AUTH') },
      },
    },
    async () => {
      const listed = await listOrgTemplates(ctx.config, ctx.log);
      return listed.map(({ dir, source, template }) => {
        const env = envOf(template, false);
        return {
          dir,
          name: template.name,
          description: template.description ?? '',
          workspaces: countNodes(template.workspaces ?? []),
          required_env: env.required,
          recommended_env: env.recommended,
          source,
        };
      });
    },
  );
}
