import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { INVALID_BODY, rejectMalformedWorkspaceId, SecretSetRequest, WorkspaceSecretSaved } from '../schemas.js';
import { setWorkspaceSecret } from '../service.js';
import { assertSecretKeysAllowed } from '../store.js';
import { holdForApproval } from '../../approvals/gate.js';
import { PendingApprovalReply } from '../../approvals/schemas.js';


/** POST and PUT are the same operation in the reference (spec §3.7); both are served, with their own operationId. */
export default function setWorkspaceSecretRoute(app: App, ctx: TenantContext) {
  for (const [method, operationId] of [
    ['POST', 'setWorkspaceSecret'],
    ['PUT', 'putWorkspaceSecret'],
  ] as const) {
    app.route({
      method,
      url: '/workspaces/:id/secrets',
      config: { minRole: 'editor', validationError: INVALID_BODY },
      preValidation: rejectMalformedWorkspaceId,
      schema: {
        operationId,
        tags: ['secrets'],
        summary: method === 'POST' ? 'Set a workspace secret' : 'Set a workspace secret (PUT alias of POST)',
        description:
          'Gated by the approval gate (`secret_write`): 202 `pending_approval` until another principal approves this exact key and value. Encrypts and upserts the value (AES-256-GCM, bound to this workspace and key), then restarts the workspace so its process gets the new environment. Returns only the key.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        body: SecretSetRequest,
        response: {
          200: WorkspaceSecretSaved,
          202: PendingApprovalReply,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_WORKSPACE_AUTH'),
        },
      },
      handler: async (request, reply) => {
        const { key, value } = request.body;
        assertSecretKeysAllowed([key], 'key'); // refused before an approval is asked for, not after
        const workspaceId = request.params.id.toLowerCase();
        // The approval covers this value (a keyed hash of it), not just the key (reference §6.6 let any value through).
        const gate = { action: 'secret_write' as const, workspaceId, reason: `set secret ${key}`, context: { workspace_id: workspaceId, key, value_hash: ctx.cipher.valueHash(value) }, binding: { value: ctx.cipher.valueDigest(value) } };
        if (await holdForApproval(ctx, request, reply, gate)) return reply;
        await setWorkspaceSecret(ctx, workspaceId, key, value, auditEventForReply(reply, 200));
        request.auditWritten = true;
        return { status: 'saved' as const, key };
      },
    });
  }
}
