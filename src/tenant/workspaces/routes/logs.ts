import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { resolveWorkspaceEnv, SecretsUnreadableError } from '../../secrets/store.js';
import { secretRedactor } from '../redact.js';
import { WorkspaceIdParams } from '../schemas.js';
import { getWorkspace } from '../store.js';

/** The ring a runtime's output is kept in holds 200 lines (core/compute/managed-process.ts). */
const MAX_LINES = 200;

export const WorkspaceLogs = Type.Object({
  workspace_id: Type.String({ format: 'uuid' }),
  lines: Type.Array(Type.String(), { description: 'The most recent output lines of the runtime process on this replica, oldest first, secrets redacted.' }),
  last_sample_error: Type.Union([Type.String(), Type.Null()], { description: 'The last `sample_error` the runtime reported in a heartbeat, secrets redacted.' }),
});

/**
 * Output may quote the workspace's secrets, so only an admin credential reads it; a workspace token never does, not
 * even through the deprecated tier 3 (which makes any workspace token an admin while ADMIN_TOKEN is unset).
 */
async function refuseWorkspaceTokens(request: FastifyRequest): Promise<void> {
  if (request.principal?.class === 'workspace-token') throw new DomainError('INVALID_ADMIN_AUTH');
}

export default function workspaceLogsRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces/:id/logs',
    {
      config: { minRole: 'admin', validationError: 'invalid workspace ID' },
      // Runs after the tier's authentication hook (scope hooks run before route hooks).
      onRequest: refuseWorkspaceTokens,
      schema: {
        operationId: 'getWorkspaceLogs',
        tags: ['workspaces'],
        summary: 'Recent runtime output of a workspace (admin only, secrets redacted)',
        description:
          'Diagnostics: the last lines the workspace’s runtime process (and its agent command) wrote, as kept by this replica, ' +
          'and the last error it reported. Every secret value of the workspace (org-wide and its own, 4 characters or more, also ' +
          'JSON-escaped) and every credential-shaped string is replaced by `[redacted]`. Process output never appears in events or ' +
          'in the workspace’s fields. Admin role only; workspace tokens are refused (401). If a secret cannot be decrypted the ' +
          'output cannot be redacted and is not shown (409).',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        querystring: Type.Object({
          tail: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LINES, default: MAX_LINES, description: 'At most this many of the latest lines.' })),
        }),
        response: {
          200: WorkspaceLogs,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_ADMIN_AUTH', 'WORKSPACE_NOT_FOUND', 'CONFLICT'),
        },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      const ws = await getWorkspace(ctx.db, id);
      if (!ws) throw new DomainError('WORKSPACE_NOT_FOUND');
      let secrets: Record<string, string>;
      try {
        secrets = await resolveWorkspaceEnv(ctx.db, ctx.cipher, id);
      } catch (err) {
        // Fail closed: output that cannot be redacted is not shown.
        if (err instanceof SecretsUnreadableError) {
          throw new DomainError('CONFLICT', 'some secrets of this workspace cannot be decrypted, so its output cannot be redacted and is not shown', {
            failed_keys: err.failedKeys,
          });
        }
        throw err;
      }
      const redact = secretRedactor(Object.values(secrets));
      const lines = ctx.lifecycle.processLogs(id).slice(-(request.query.tail ?? MAX_LINES));
      return {
        workspace_id: id,
        lines: lines.map(redact),
        last_sample_error: ws.last_sample_error === null ? null : redact(ws.last_sample_error),
      };
    },
  );
}
