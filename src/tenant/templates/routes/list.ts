import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { presentTemplate } from '../present.js';
import { TemplateItem } from '../schemas.js';
import { listTemplateRows } from '../store.js';

export default function listTemplatesRoute(app: App, ctx: TenantContext) {
  app.get(
    '/templates',
    {
      config: { minRole: 'reader' },
      schema: {
        operationId: 'listTemplates',
        tags: ['templates'],
        summary: 'List workspace templates',
        description: 'The built-ins, MOLECULE_TEMPLATES_DIR’s and imported templates, by id; each in the reference’s item shape (name, model and skills from its config.yaml).',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        response: { 200: Type.Array(TemplateItem), ...errorResponses(...AUTH_ERRORS, 'INVALID_ADMIN_AUTH') },
      },
    },
    async () => (await listTemplateRows(ctx.db)).map(presentTemplate),
  );
}
