import { Type, type Static } from 'typebox';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { Text } from '../../../core/http/input.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { tenantClientFor } from '../../fleet/tenant-client.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { isPartnerPrincipal } from '../../partner-keys/auth.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';
import { requireOrgRole } from '../access.js';
import { SlugParams } from '../schemas.js';

const NO_NEWLINES = '^[^\\n\\r]*$';

/** The subset of the tenant's POST /workspaces body a partner's script needs; the tenant validates it again. */
export const OrgWorkspaceCreateRequest = Type.Object(
  {
    name: Text({ minLength: 1, maxLength: 255 }),
    role: Type.Optional(Text({ maxLength: 1000 })),
    tier: Type.Optional(Type.Integer({ minimum: 1, maximum: 4 })),
    runtime: Type.Optional(Text({ maxLength: 100, pattern: NO_NEWLINES })),
    template: Type.Optional(Text({ minLength: 1, maxLength: 200 })),
    model: Type.Optional(Text({ maxLength: 100, pattern: NO_NEWLINES })),
    external: Type.Optional(Type.Boolean({ description: 'An agent run by the operator, not by the platform: no process is started.' })),
    url: Type.Optional(Text({ maxLength: 2048, pattern: '^https?://', 'x-error': 'must be an http(s) URL' })),
  },
  { additionalProperties: false },
);
export type OrgWorkspaceCreateRequest = Static<typeof OrgWorkspaceCreateRequest>;

export const OrgWorkspaceCreated = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    status: Type.String(),
    auth_token: Type.String({ description: 'The workspace’s first token (`molw_…`), from the tenant. Shown once.' }),
    token_id: Type.String(),
  },
  { additionalProperties: true, description: 'The tenant’s answer to POST /workspaces, as it gave it.' },
);

/**
 * `workspaces:create` (the seed's scope): a workspace in one of the partner's orgs, made by the CP on the org's tenant
 * with the tenant's admin token (reference §2.4: the CP proxies the tenant admin API), attributed to the partner key in
 * both audit chains — here by the principal, there by X-Molecule-Acting-For.
 */
export default function createOrgWorkspaceRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/orgs/:slug/workspaces',
    {
      schema: {
        operationId: 'createOrgWorkspace',
        tags: ['orgs'],
        summary: 'Create a workspace in an org, through the control plane (org admins; partner keys with `workspaces:create`)',
        description:
          'Forwarded to the org’s tenant (POST /workspaces) with its admin token; the tenant’s 201 is returned as it gave it, including the workspace token shown once. ' +
          'The tenant must be running (503 TENANT_NOT_READY otherwise); a tenant refusal is 502 TENANT_REQUEST_FAILED with its status, code and message.',
        security: [{ session: [] }, { partnerKey: [] }],
        params: SlugParams,
        body: OrgWorkspaceCreateRequest,
        response: {
          201: OrgWorkspaceCreated,
          ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'ORG_NOT_FOUND', 'ROLE_FORBIDDEN', 'TENANT_NOT_READY', 'TENANT_UNREACHABLE', 'TENANT_REQUEST_FAILED'),
        },
      },
      config: { partnerScope: 'workspaces:create' },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const org = await requireOrgRole(ctx, principal, request.params.slug, 'admin', 'create workspaces');
      const client = await tenantClientFor(ctx, org.slug);
      const headers: Record<string, string> = isPartnerPrincipal(principal) ? { 'x-molecule-acting-for': principal.actor } : {};
      const answer = await client.call('POST', '/workspaces', request.body, headers);
      if (answer.status !== 201 || !answer.body || typeof answer.body !== 'object') throw client.failure('POST /workspaces', answer);
      const created = answer.body as Record<string, unknown>;
      if (typeof created['id'] !== 'string') throw new DomainError('TENANT_REQUEST_FAILED', `org "${org.slug}"'s tenant answered 201 without a workspace id`, { http_status: 201 });
      return reply.code(201).send(created as Static<typeof OrgWorkspaceCreated>);
    },
  );
}
