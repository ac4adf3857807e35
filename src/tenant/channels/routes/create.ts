import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { ChannelCreated, ChannelCreateRequest } from '../schemas.js';
import { createChannel } from '../service.js';

export default function createChannelRoute(app: App, ctx: TenantContext) {
  app.post(
    '/workspaces/:id/channels',
    {
      config: { minRole: 'editor' },
      schema: {
        operationId: 'createChannel',
        tags: ['channels'],
        summary: 'Add a notification channel (Slack, Discord or a signed webhook) to a workspace',
        description:
          'Admin chain, confined to the bound workspace (a workspace token cannot redirect the alerts about its own workspace). The config is checked for its type, and a target on a private, loopback or reserved address is refused (CHANNEL_ALLOWED_NETWORKS allows more); it is stored encrypted and answered masked. A webhook created without `config.secret` gets a generated one, returned once as `signing_secret`.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        body: ChannelCreateRequest,
        response: {
          201: ChannelCreated,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_JSON', 'WORKSPACE_NOT_FOUND', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request, reply) => {
      const { channel, generatedSecret } = await createChannel(
        { db: ctx.db, cipher: ctx.cipher, policy: ctx.channels.policy },
        request.params.id.toLowerCase(),
        request.body,
        auditEventForReply(reply, 201),
      );
      request.auditWritten = true;
      reply.code(201);
      // The generated signing secret is returned here and nowhere else.
      return generatedSecret ? { ...channel, signing_secret: generatedSecret } : channel;
    },
  );
}
