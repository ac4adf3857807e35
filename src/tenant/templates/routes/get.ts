import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TemplateConfig } from '../../../core/templates/config.js';
import type { TenantContext } from '../../context.js';
import { presentTemplate } from '../present.js';
import { TemplateDetail, TemplateIdParams } from '../schemas.js';
import { templateNotFound } from '../service.js';
import { getTemplateRow, templateFileList, templateFiles } from '../store.js';

export default function getTemplateRoute(app: App, ctx: TenantContext) {
  app.get(
    '/templates/:id',
    {
      config: { minRole: 'reader', validationError: 'invalid template id' },
      schema: {
        operationId: 'getTemplate',
        tags: ['templates'],
        summary: 'One template: its item, version, command and files',
        description: 'Files are listed by path, size and sha256; `?content=true` adds each file’s text (an export).',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: TemplateIdParams,
        querystring: Type.Object({ content: Type.Optional(Type.Boolean({ default: false })) }),
        response: { 200: TemplateDetail, ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'NOT_FOUND', 'INVALID_ADMIN_AUTH') },
      },
    },
    async (request) => {
      const row = await getTemplateRow(ctx.db, request.params.id);
      if (!row) throw templateNotFound(request.params.id);
      const config = row.config as unknown as TemplateConfig;
      const listed = await templateFileList(ctx.db, row.id, row.version);
      const contents = request.query.content ? await templateFiles(ctx.db, row.id, row.version) : null;
      return {
        ...presentTemplate(row),
        version: row.version,
        source: row.source,
        command: config.command ?? null,
        prompt_files: config.prompt_files ?? [],
        created_at: new Date(row.created_at).toISOString(),
        updated_at: new Date(row.updated_at).toISOString(),
        files: listed.map((f) => (contents ? { ...f, content: contents[f.path]!.toString('utf8') } : f)),
      };
    },
  );
}
