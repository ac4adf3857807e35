import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import { isPartnerPrincipal } from '../../partner-keys/auth.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { presentOrg } from '../present.js';
import { Organization, OrgName, PlanSchema, Slug } from '../schemas.js';
import { assertSlugAvailable, createOrg } from '../service.js';

export const CreateOrgRequest = Type.Object(
  {
    slug: Slug,
    name: OrgName,
    plan: Type.Optional(PlanSchema),
  },
  { additionalProperties: false },
);
export type CreateOrgRequest = Static<typeof CreateOrgRequest>;

export default function createOrgRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/orgs',
    {
      schema: {
        operationId: 'createOrg',
        tags: ['orgs'],
        summary: 'Create an org (the caller becomes its owner)',
        description:
          'Needs the current terms accepted (412 otherwise). A free org starts `provisioning`; a paid `plan` starts `awaiting_payment` until checkout completes. ' +
          'With a partner key (scope `orgs:create`): the org belongs to the key’s partner, has no members, and starts `provisioning` on any plan (the partner is invoiced; no terms, quota or checkout gate). ' +
          'A user may own MAX_FREE_ORGS_PER_USER free orgs (402 beyond). Reserved and taken slugs are 409, and so is the slug of an org deleted less than SLUG_TOMBSTONE_DAYS ago (`reason: "recently_deleted"`, `available_at`).',
        security: [{ session: [] }, { partnerKey: [] }],
        body: CreateOrgRequest,
        response: {
          201: Organization,
          ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'TERMS_NOT_ACCEPTED', 'PAYMENT_REQUIRED', 'SLUG_TAKEN'),
        },
      },
      config: { partnerScope: 'orgs:create' },
    },
    async (request, reply) => {
      const caller = request.principal;
      if (isPartnerPrincipal(caller)) {
        // A key bound to one org reaches that org only: a new org would be outside its binding.
        if (caller.orgId !== null) throw new DomainError('SCOPE_MISSING', `this API key is bound to org ${caller.orgId}: it cannot create orgs`, { required_scope: 'orgs:create', org_id: caller.orgId });
        const { slug, name, plan = 'free' } = request.body;
        assertSlugAvailable(slug);
        const row = await createOrg(ctx, { slug, name, plan, ownerUserId: null, partnerId: caller.partnerId, provider: 'local', actor: caller.actor }, auditEventForReply(reply, 201));
        request.auditWritten = true;
        return reply.code(201).send(presentOrg(row));
      }
      const principal = caller as SessionPrincipal;
      if (principal.session.termsVersion !== ctx.config.TERMS_VERSION) {
        throw new DomainError('TERMS_NOT_ACCEPTED', 'accept the terms of service first (POST /api/v1/auth/accept-terms)', { terms_version: ctx.config.TERMS_VERSION });
      }
      const { slug, name, plan = 'free' } = request.body;
      assertSlugAvailable(slug);
      const row = await createOrg(
        ctx,
        { slug, name, plan, ownerUserId: principal.userId, provider: 'local', actor: principal.actor, freeQuota: ctx.config.MAX_FREE_ORGS_PER_USER },
        auditEventForReply(reply, 201),
      );
      request.auditWritten = true;
      return reply.code(201).send(presentOrg(row, 'owner'));
    },
  );
}
