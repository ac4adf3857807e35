import { Text } from '../../../core/http/input.js';
import { Type, type Static } from 'typebox';
import { ValidationError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { TENANT_SECURITY, TENANT_TIER_ERRORS } from '../errors.js';
import { recordTenantBootEvent, tenantOrgOf } from '../service.js';

export const TenantBootEventRequest = Type.Object(
  {
    stage: Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$', maxLength: 32, description: 'e.g. `booting`, `listening`, `stopping`.' }),
    detail: Type.Optional(Text({ maxLength: 1000 })),
    url: Type.Optional(Text({ pattern: '^https?://[^\\s]+$', maxLength: 200, description: 'Where the tenant listens (stage `listening`).' })),
  },
  { additionalProperties: false },
);
export type TenantBootEventRequest = Static<typeof TenantBootEventRequest>;

export default function tenantBootEventRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/tenants/boot-event',
    {
      schema: {
        operationId: 'postTenantBootEvent',
        tags: ['tenants'],
        summary: 'A tenant reports a boot stage (tenant admin token)',
        description:
          'Recorded in the org’s boot history (the newest 200 are kept) and handed to the tenant provisioner: `listening` is the readiness signal. A token the CP does not know is 401 (reference §7 check 49).',
        security: TENANT_SECURITY,
        body: TenantBootEventRequest,
        response: {
          202: Type.Object({ ok: Type.Literal(true) }),
          ...errorResponses(...TENANT_TIER_ERRORS, 'VALIDATION_FAILED'),
        },
      },
    },
    async (request, reply) => {
      const orgId = tenantOrgOf(request.principal);
      const { stage, detail, url } = request.body;
      if (url !== undefined) {
        // The pattern keeps whitespace out; this keeps out what only a URL parser notices.
        try {
          new URL(url);
        } catch {
          throw new ValidationError('url: must be an http(s) URL', { fields: ['url'], field: 'url' });
        }
      }
      const event = { stage, detail, url };
      await recordTenantBootEvent(ctx.db, orgId, event);
      await ctx.provisioner.onBootEvent(orgId, event);
      return reply.code(202).send({ ok: true });
    },
  );
}
