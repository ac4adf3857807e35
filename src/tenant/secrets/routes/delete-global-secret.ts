import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { GLOBAL_SECRETS_PATHS, GlobalSecretDeleted, INVALID_KEY, markLegacySecretsResponse, SecretKey } from '../schemas.js';
import { removeGlobalSecret } from '../service.js';

export default function deleteGlobalSecretRoute(app: App, ctx: TenantContext) {
  for (const path of GLOBAL_SECRETS_PATHS) {
    app.delete(
      `${path.url}/:key`,
      {
        config: { minRole: 'admin', orgWide: true, validationError: INVALID_KEY },
        ...(path.deprecated ? { onSend: markLegacySecretsResponse } : {}),
        schema: {
          operationId: `deleteGlobalSecret${path.operationSuffix}`,
          tags: ['secrets'],
          summary: `Delete an org-wide secret${path.deprecated ? ' (legacy path; use /settings/secrets)' : ''}`,
          description: 'Then restarts every running workspace that has no value of its own for this key. Unknown key → 404 `secret not found`.',
          deprecated: path.deprecated,
          security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
          params: Type.Object({ key: SecretKey }),
          response: {
            200: GlobalSecretDeleted,
            ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'SCOPE_EXCEEDED', 'SECRET_NOT_FOUND', 'INVALID_ADMIN_AUTH'),
          },
        },
      },
      async (request, reply) => {
        const { key } = request.params;
        await removeGlobalSecret(ctx, key, auditEventForReply(reply, 200));
        request.auditWritten = true;
        return { status: 'deleted' as const, key, scope: 'global' as const };
      },
    );
  }
}
