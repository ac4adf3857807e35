import { Type, type Static } from 'typebox';
import { GENESIS_HASH } from '../../../core/audit/chain.js';
import { DomainError, ValidationError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { BIGINT_SAFE_MAX } from '../../../core/http/input.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { TENANT_SECURITY, TENANT_TIER_ERRORS } from '../errors.js';
import { AuditAnchor, presentAnchor } from '../schemas.js';
import { reportAnchor, tenantOrgOf } from '../service.js';

export const AUDIT_ANCHOR_REASONS = ['periodic', 'shutdown', 'boot'] as const;

export const AuditAnchorReport = Type.Object(
  {
    count: Type.Integer({ minimum: 0, maximum: BIGINT_SAFE_MAX, description: 'Rows in the tenant’s audit chain.' }),
    head_hash: Type.String({
      pattern: '^[0-9a-f]{64}$',
      maxLength: 64,
      description: 'The hash of the chain’s newest row (sha256, lowercase hex); an empty chain’s head is 64 zeros.',
    }),
    reason: Type.Union(AUDIT_ANCHOR_REASONS.map((r) => Type.Literal(r))),
  },
  { additionalProperties: false },
);
export type AuditAnchorReport = Static<typeof AuditAnchorReport>;

export default function reportAuditAnchorRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/tenants/audit-anchor',
    {
      schema: {
        operationId: 'reportTenantAuditAnchor',
        tags: ['tenants'],
        summary: 'A tenant reports its audit chain head (tenant admin token)',
        description:
          'Stored outside the tenant’s database, so a chain rewound or rewritten there no longer matches it. 201: recorded; 200: the same as the newest report, not stored again; 409 AUDIT_ANCHOR_REGRESSION: shorter than the longest chain this tenant ever reported (or as long, with another head) — recorded all the same, and never lowers the anchor GET /tenants/audit-anchor answers.',
        security: TENANT_SECURITY,
        body: AuditAnchorReport,
        response: {
          200: AuditAnchor,
          201: AuditAnchor,
          ...errorResponses(...TENANT_TIER_ERRORS, 'VALIDATION_FAILED', 'AUDIT_ANCHOR_REGRESSION'),
        },
      },
    },
    async (request, reply) => {
      const orgId = tenantOrgOf(request.principal);
      const { count, head_hash, reason } = request.body;
      if ((count === 0) !== (head_hash === GENESIS_HASH)) {
        throw new ValidationError('head_hash: an empty chain (count 0) has the genesis head (64 zeros), and only an empty chain has it', {
          fields: ['head_hash'],
          field: 'head_hash',
        });
      }
      const outcome = await reportAnchor(ctx.db, orgId, { count, head_hash, reason });
      if (outcome.kind === 'regression') {
        ctx.log.error(
          { org_id: orgId, count, head_hash, anchored_count: outcome.highWater.count, anchored_hash: outcome.highWater.head_hash },
          'a tenant reported an audit chain behind (or diverging from) its anchor: it was rewound, rewritten or restored',
        );
        throw new DomainError('AUDIT_ANCHOR_REGRESSION', undefined, {
          count,
          head_hash,
          anchored_count: outcome.highWater.count,
          anchored_hash: outcome.highWater.head_hash,
          anchored_at: outcome.highWater.reported_at.toISOString(),
        });
      }
      return reply.code(outcome.kind === 'created' ? 201 : 200).send(presentAnchor(outcome.anchor));
    },
  );
}
