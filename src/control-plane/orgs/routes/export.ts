import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';
import { requireOrgRole } from '../access.js';
import { presentOrg } from '../present.js';
import { Organization, SlugParams } from '../schemas.js';
import { findInstance, listMembers } from '../store.js';

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export const OrgExport = Type.Object({
  schema_version: Type.Literal(1),
  exported_at: Type.String({ format: 'date-time' }),
  exported_by: Type.String(),
  subject: Type.Object({ user_id: Type.String() }),
  organization: Organization,
  infrastructure: Type.Optional(
    Type.Object({ instance_status: Type.String(), stage: Type.String(), url: Type.Union([Type.String(), Type.Null()]), region: Type.Union([Type.String(), Type.Null()]), created_at: Type.String() }),
  ),
  members: Type.Array(
    Type.Object({ user_id: Type.String(), role: Type.String(), email: Type.Union([Type.String(), Type.Null()]), name: Type.Union([Type.String(), Type.Null()]), joined_at: Type.String(), invited_by: Type.Union([Type.String(), Type.Null()]) }),
  ),
  invitations: Type.Array(
    Type.Object({ id: Type.String(), role: Type.String(), email: Type.Union([Type.String(), Type.Null()]), invited_by: Type.String(), created_at: Type.String(), expires_at: Type.String(), accepted_at: Type.Union([Type.String(), Type.Null()]), accepted_by: Type.Union([Type.String(), Type.Null()]), revoked_at: Type.Union([Type.String(), Type.Null()]) }),
  ),
  billing: Type.Object({
    ledger: Type.Array(Type.Object({ id: Type.String(), delta: Type.Integer(), balance_after: Type.Integer(), reason: Type.String(), reference: Type.Union([Type.String(), Type.Null()]), created_by: Type.String(), created_at: Type.String() })),
    invoices: Type.Array(Type.Object({ id: Type.String(), number: Type.String(), description: Type.String(), amount_cents: Type.Integer(), currency: Type.String(), status: Type.String(), created_at: Type.String(), paid_at: Type.Union([Type.String(), Type.Null()]) })),
  }),
  notes: Type.Record(Type.String(), Type.String()),
});

export default function exportOrgRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/orgs/:slug/export',
    {
      schema: {
        operationId: 'exportOrg',
        tags: ['orgs'],
        summary: 'GDPR export of what the control plane holds about an org (members only; no secrets)',
        description: 'With a partner key (scope `orgs:export`): one of its partner’s orgs; any other org is 404. Never includes tokens, invitation secrets, password hashes or session data. Workspace data lives in the tenant and is exported there.',
        security: [{ session: [] }, { partnerKey: [] }],
        params: SlugParams,
        response: { 200: OrgExport, ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND') },
      },
      config: { partnerScope: 'orgs:export' },
    },
    async (request) => {
      const principal = request.principal!;
      const org = await requireOrgRole(ctx, principal, request.params.slug, 'member', 'export this org');
      const [instance, members, invitations, ledger, invoices] = await Promise.all([
        findInstance(ctx.db, org.id),
        listMembers(ctx.db, org.id),
        ctx.db
          .selectFrom('org_invitations')
          .select(['id', 'role', 'email', 'invited_by', 'created_at', 'expires_at', 'accepted_at', 'accepted_by', 'revoked_at'])
          .where('org_id', '=', org.id)
          .orderBy('created_at')
          .execute(),
        ctx.db.selectFrom('credit_ledger').selectAll().where('org_id', '=', org.id).orderBy('created_at').orderBy('id').execute(),
        ctx.db.selectFrom('invoices').selectAll().where('org_id', '=', org.id).orderBy('created_at').execute(),
      ]);
      return {
        schema_version: 1 as const,
        exported_at: new Date().toISOString(),
        // A partner key has no user: the export names the key's actor (`partner-key:<prefix>`) and its partner.
        exported_by: principal.userId ?? principal.actor,
        subject: { user_id: principal.userId ?? `partner:${principal.partnerId ?? ''}` },
        organization: presentOrg(org, org.role),
        ...(instance && instance.status !== 'failed'
          ? { infrastructure: { instance_status: instance.status, stage: instance.stage, url: instance.url, region: instance.region, created_at: iso(instance.created_at)! } }
          : {}),
        members: members.map((m) => ({ user_id: m.user_id, role: m.role, email: m.email, name: m.name, joined_at: iso(m.created_at)!, invited_by: m.invited_by })),
        invitations: invitations.map((i) => ({ ...i, created_at: iso(i.created_at)!, expires_at: iso(i.expires_at)!, accepted_at: iso(i.accepted_at), revoked_at: iso(i.revoked_at) })),
        billing: {
          ledger: ledger.map((e) => ({ id: e.id, delta: Number(e.delta), balance_after: Number(e.balance_after), reason: e.reason, reference: e.reference, created_by: e.created_by, created_at: iso(e.created_at)! })),
          invoices: invoices.map((i) => ({ id: i.id, number: i.number, description: i.description, amount_cents: Number(i.amount_cents), currency: i.currency, status: i.status, created_at: iso(i.created_at)!, paid_at: iso(i.paid_at) })),
        },
        notes: {
          workspaces: 'Workspace data, secrets metadata and the tenant audit trail live in the org’s tenant database; export them there.',
          secrets: 'No credential, secret, invitation token or password hash is ever included.',
        },
      };
    },
  );
}
