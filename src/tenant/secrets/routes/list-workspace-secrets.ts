import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { rejectMalformedWorkspaceId, WorkspaceSecretListItem } from '../schemas.js';
import { listSecretsForWorkspace } from '../service.js';

export const WorkspaceSecretListResponse = Type.Array(WorkspaceSecretListItem);

export default function listWorkspaceSecretsRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces/:id/secrets',
    {
      config: { minRole: 'reader', validationError: 'invalid workspace ID' },
      preValidation: rejectMalformedWorkspaceId,
      schema: {
        operationId: 'listWorkspaceSecrets',
        tags: ['secrets'],
        summary: "List a workspace's secret keys (never values)",
        description:
          'The workspace’s own keys (ORDER BY key, `scope: "workspace"`), then the org-wide keys it does not shadow (`scope: "global"`). Values are never returned. Unlike the reference, an unknown or removed workspace answers 404.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        response: {
          200: WorkspaceSecretListResponse,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_WORKSPACE_AUTH'),
        },
      },
    },
    async (request) => {
      const rows = await listSecretsForWorkspace(ctx.db, request.params.id.toLowerCase());
      return rows.map((r) => ({
        key: r.key,
        has_value: true as const,
        scope: r.scope,
        created_at: new Date(r.created_at).toISOString(),
        updated_at: new Date(r.updated_at).toISOString(),
      }));
    },
  );
}
