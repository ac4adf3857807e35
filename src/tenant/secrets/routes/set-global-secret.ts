import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { GLOBAL_SECRETS_PATHS, GlobalSecretSaved, INVALID_BODY, markLegacySecretsResponse, SecretSetRequest } from '../schemas.js';
import { setGlobalSecret } from '../service.js';
import { assertSecretKeysAllowed } from '../store.js';
import { holdForApproval } from '../../approvals/gate.js';
import { PendingApprovalReply } from '../../approvals/schemas.js';


/**
 * POST and PUT, on the canonical and the legacy path (spec §3.8). Org-wide and admin-only: an org-wide value reaches
 * every workspace that does not shadow it (ADR-001's threat), so neither an editor nor a workspace-bound key may set one.
 */
export default function setGlobalSecretRoute(app: App, ctx: TenantContext) {
  for (const path of GLOBAL_SECRETS_PATHS) {
    for (const [method, verb] of [
      ['POST', 'set'],
      ['PUT', 'put'],
    ] as const) {
      app.route({
        method,
        url: path.url,
        config: { minRole: 'admin', orgWide: true, validationError: INVALID_BODY },
        ...(path.deprecated ? { onSend: markLegacySecretsResponse } : {}),
        schema: {
          operationId: `${verb}GlobalSecret${path.operationSuffix}`,
          tags: ['secrets'],
          summary: `Set an org-wide secret${method === 'PUT' ? ' (PUT alias of POST)' : ''}${path.deprecated ? ' (legacy path; use /settings/secrets)' : ''}`,
          description:
            'Gated by the approval gate (`secret_write`): 202 `pending_approval` until another principal approves this exact key and value. Encrypts and upserts the value, then restarts every running workspace that has no value of its own for this key. Needs an org-wide admin credential. Returns only the key.',
          deprecated: path.deprecated,
          security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
          body: SecretSetRequest,
          response: { 200: GlobalSecretSaved, 202: PendingApprovalReply, ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'SCOPE_EXCEEDED', 'INVALID_ADMIN_AUTH') },
        },
        handler: async (request, reply) => {
          const { key, value } = request.body;
          assertSecretKeysAllowed([key], 'key'); // refused before an approval is asked for, not after
          const gate = { action: 'secret_write' as const, workspaceId: null, reason: `set org-wide secret ${key}`, context: { scope: 'global', key, value_hash: ctx.cipher.valueHash(value) }, binding: { value: ctx.cipher.valueDigest(value) } };
          if (await holdForApproval(ctx, request, reply, gate)) return reply;
          await setGlobalSecret(ctx, key, value, auditEventForReply(reply, 200));
          request.auditWritten = true;
          return { status: 'saved' as const, key, scope: 'global' as const };
        },
      });
    }
  }
}
