import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { GLOBAL_SECRETS_PATHS, GlobalSecretListItem, markLegacySecretsResponse } from '../schemas.js';
import { listGlobalSecretMeta } from '../store.js';

export const GlobalSecretListResponse = Type.Array(GlobalSecretListItem);

export default function listGlobalSecretsRoute(app: App, ctx: TenantContext) {
  for (const path of GLOBAL_SECRETS_PATHS) {
    app.get(
      path.url,
      {
        config: { minRole: 'reader', orgWide: true },
        ...(path.deprecated ? { onSend: markLegacySecretsResponse } : {}),
        schema: {
          operationId: `listGlobalSecrets${path.operationSuffix}`,
          tags: ['secrets'],
          summary: path.deprecated ? 'List org-wide secret keys (legacy path; use /settings/secrets)' : 'List org-wide secret keys (never values)',
          description: 'Ordered by key. Values are never returned. A workspace-bound key may not list org-wide settings.',
          deprecated: path.deprecated,
          security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
          response: { 200: GlobalSecretListResponse, ...errorResponses(...AUTH_ERRORS, 'SCOPE_EXCEEDED', 'INVALID_ADMIN_AUTH') },
        },
      },
      async () => {
        const rows = await listGlobalSecretMeta(ctx.db);
        return rows.map((r) => ({
          key: r.key,
          has_value: true as const,
          created_at: new Date(r.created_at).toISOString(),
          updated_at: new Date(r.updated_at).toISOString(),
          scope: 'global' as const,
        }));
      },
    );
  }
}
