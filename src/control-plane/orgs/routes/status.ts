import { Type } from 'typebox';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { UUID_PATTERN } from '../../../core/ids.js';
import type { ControlPlaneContext } from '../../context.js';
import { ORG_STATUSES, type OrgStatus } from '../../db/schema.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { isPartnerPrincipal } from '../../partner-keys/auth.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';
import { requirePartnerOrg } from '../access.js';
import { literalUnion, SLUG_PATTERN } from '../schemas.js';
import { provisionStatusOf } from '../service.js';
import { findMembership } from '../store.js';
import { ProvisionStatus } from './provision-status.js';

export const OrgStatusParams = Type.Object({
  slug: Type.String({
    // Anchored once around both: an org id (UUID) or a slug, nothing else.
    pattern: `^(?:${UUID_PATTERN.slice(1, -1)}|${SLUG_PATTERN.slice(1, -1)})$`,
    'x-error': 'must be an org id (UUID) or slug',
    description: 'The org’s id or its slug.',
  }),
});

export const OrgStatusReply = Type.Object({
  id: Type.String({ format: 'uuid' }),
  slug: Type.String(),
  status: literalUnion<OrgStatus>(ORG_STATUSES, { description: 'The org’s status: `provisioning` until its tenant answers, then `running`.' }),
  created_at: Type.String({ format: 'date-time' }),
  provisioning: ProvisionStatus,
});

/**
 * The seed's polling route (partner flow: `GET /cp/orgs/:id/status` until `running`): by id or slug, members and
 * partner keys alike. A key that created an org can follow it with `orgs:create` alone.
 */
export default function orgStatusRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/orgs/:slug/status',
    {
      schema: {
        operationId: 'getOrgStatus',
        tags: ['orgs'],
        summary: 'An org’s status and provisioning progress, by id or slug (members; partner keys)',
        description:
          'Poll until `status` is `running`; the tenant then answers through the edge. Partner keys: any of `provision:status`, `orgs:read` (`orgs:list`) or `orgs:create`, on their partner’s orgs; anything else is 404.',
        security: [{ session: [] }, { partnerKey: [] }],
        params: OrgStatusParams,
        response: { 200: OrgStatusReply, ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND') },
      },
      config: { partnerScope: ['provision:status', 'orgs:read', 'orgs:create'] },
    },
    async (request) => {
      const ref = request.params.slug;
      const by = new RegExp(`^${UUID_PATTERN}$`).test(ref) ? { id: ref.toLowerCase() } : { slug: ref };
      const principal = request.principal;
      const org = isPartnerPrincipal(principal)
        ? await requirePartnerOrg(ctx, principal, by)
        : principal?.userId
          ? await findMembership(ctx.db, by, principal.userId)
          : undefined;
      if (!org) throw new DomainError('ORG_NOT_FOUND');
      return { id: org.id, slug: org.slug, status: org.status, created_at: new Date(org.created_at).toISOString(), provisioning: await provisionStatusOf(ctx, org) };
    },
  );
}
