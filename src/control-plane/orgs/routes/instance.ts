import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { enforceRateLimit } from '../../../core/http/rate-limit.js';
import { errorResponses } from '../../../core/http/responses.js';
import { DomainError } from '../../../core/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { SlugParams } from '../schemas.js';
import { tenantPublicUrl } from '../service.js';
import { findInstance, findOrgBySlug } from '../store.js';

export default function orgInstanceRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/orgs/:slug/instance',
    {
      schema: {
        operationId: 'getOrgInstance',
        tags: ['orgs'],
        summary: 'Public routing lookup for an org’s tenant (no auth; rate-limited)',
        description:
          'What an edge proxy needs to route `<slug>.<domain>`: never a token. Rate-limited per client (INSTANCE_LOOKUP_LIMIT per minute) so it cannot be used to enumerate orgs; unknown slugs are 404.',
        params: SlugParams,
        response: {
          200: Type.Object({
            slug: Type.String(),
            org_id: Type.String({ format: 'uuid' }),
            status: Type.String({ description: 'The org status.' }),
            instance_status: Type.Union([Type.String(), Type.Null()]),
            url: Type.Union([Type.String(), Type.Null()], { description: 'Where users reach the tenant (through the edge: <slug>.<TENANT_DOMAIN>), once it runs.' }),
            ip: Type.Union([Type.String(), Type.Null()]),
            region: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errorResponses('VALIDATION_FAILED', 'ORG_NOT_FOUND', 'RATE_LIMITED', 'platform_unavailable'),
        },
      },
    },
    async (request, reply) => {
      await enforceRateLimit(reply, ctx.rateLimiter, `cp-instance:${request.ip}`, ctx.config.INSTANCE_LOOKUP_LIMIT, 60_000);
      const org = await findOrgBySlug(ctx.db, request.params.slug);
      if (!org) throw new DomainError('ORG_NOT_FOUND');
      const instance = await findInstance(ctx.db, org.id);
      return {
        slug: org.slug,
        org_id: org.id,
        status: org.status,
        instance_status: instance?.status ?? null,
        url: instance?.status === 'running' && instance.url ? tenantPublicUrl(ctx, org.slug) : null,
        ip: instance?.ip ?? null,
        region: instance?.region ?? null,
      };
    },
  );
}
