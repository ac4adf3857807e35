import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { presentOrg } from '../../orgs/present.js';
import { Organization, OrgName, Slug } from '../../orgs/schemas.js';
import { assertSlugAvailable, assertSlugNotTombstoned, createOrg } from '../../orgs/service.js';
import { findOrgBySlug } from '../../orgs/store.js';
import { ADMIN_ERRORS } from '../errors.js';
import { Text } from '../../../core/http/input.js';

/**
 * Strict on purpose (reference §2.4): a stale field such as `is_staging` must fail loudly, not be ignored and
 * silently provision something else. `provider` is accepted, as newer callers send it.
 */
export const AdminCreateOrgRequest = Type.Object(
  {
    slug: Slug,
    name: OrgName,
    owner_user_id: Text({ minLength: 1, maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f\\s]+$', 'x-error': 'must be 1-200 characters without spaces or control characters', description: 'Opaque owner id (a user id, or a CI convention such as `e2e-runner:<slug>`).' }),
    provider: Type.Optional(Type.String({ maxLength: 64, pattern: '^[a-z0-9][a-z0-9-]*$', 'x-error': 'must be a lowercase provider name' })),
  },
  { additionalProperties: false },
);
export type AdminCreateOrgRequest = Static<typeof AdminCreateOrgRequest>;

/** The reference maps its hosting provider name to the `local` backend; anything else is kept as given. */
function providerOf(requested: string | undefined): string {
  if (!requested || requested === 'molecules-server') return 'local';
  return requested;
}

export default function adminCreateOrgRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/admin/orgs',
    {
      schema: {
        operationId: 'adminCreateOrg',
        tags: ['admin'],
        summary: 'Create an org for a user (skips the terms, quota and billing gates)',
        description:
          '`?dry_run=true` validates (including slug availability) and echoes the request with 200; nothing is created. ' +
          'The slug of an org deleted less than SLUG_TOMBSTONE_DAYS ago is 409 (`reason: "recently_deleted"`), as on POST /orgs.',
        security: [{ cpAdmin: [] }],
        querystring: Type.Object({ dry_run: Type.Optional(Type.Boolean({ default: false })) }),
        body: AdminCreateOrgRequest,
        response: {
          200: Type.Object({ dry_run: Type.Literal(true), slug: Type.String(), name: Type.String(), owner_user_id: Type.String(), provider: Type.String() }),
          201: Organization,
          ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED', 'SLUG_TAKEN'),
        },
      },
    },
    async (request, reply) => {
      const { slug, name, owner_user_id } = request.body;
      const provider = providerOf(request.body.provider);
      assertSlugAvailable(slug);
      if (request.query.dry_run) {
        if (await findOrgBySlug(ctx.db, slug)) throw new DomainError('SLUG_TAKEN', `slug "${slug}" is already taken`, { field: 'slug' });
        await assertSlugNotTombstoned(ctx.db, slug, ctx.config.SLUG_TOMBSTONE_DAYS);
        return reply.code(200).send({ dry_run: true as const, slug, name, owner_user_id, provider });
      }
      const row = await createOrg(ctx, { slug, name, plan: 'free', ownerUserId: owner_user_id, provider, actor: request.principal!.actor }, auditEventForReply(reply, 201));
      request.auditWritten = true;
      return reply.code(201).send(presentOrg(row));
    },
  );
}
