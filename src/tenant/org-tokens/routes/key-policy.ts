import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { getKeyPolicy, saveKeyPolicy } from '../policy.js';

const MaxLifetimeDays = Type.Union([Type.Integer({ minimum: 1, maximum: 3650, 'x-error': 'must be a whole number of days from 1 to 3650, or null' }), Type.Null()], {
  description: 'The longest a new key may live, in days; null: no limit.',
});

export const KeyPolicyBody = Type.Object(
  {
    max_lifetime_days: MaxLifetimeDays,
    require_expiry: Type.Boolean({ description: 'Every new key must have an expiry.' }),
  },
  { additionalProperties: false },
);

export const KeyPolicyReply = Type.Object({
  max_lifetime_days: Type.Union([Type.Integer(), Type.Null()]),
  require_expiry: Type.Boolean(),
  updated_by: Type.Union([Type.String(), Type.Null()], { description: 'Who set it last; null: never set.' }),
  updated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

function present(p: Awaited<ReturnType<typeof getKeyPolicy>>) {
  return { max_lifetime_days: p.max_lifetime_days, require_expiry: p.require_expiry, updated_by: p.updated_by, updated_at: p.updated_at ? p.updated_at.toISOString() : null };
}

const ENFORCEMENT =
  'Enforced at mint (POST /org/tokens), whoever mints: a key without an expiry where one is required → 422 `KEY_POLICY_EXPIRY_REQUIRED`; one that would live longer than `max_lifetime_days` (or forever) → 422 `KEY_POLICY_LIFETIME_EXCEEDED`. Existing keys are not touched; a rotation keeps its key’s expiry.';

/** GET /org/settings/key-policy: the org key policy (no row: no policy). */
export function getKeyPolicyRoute(app: App, ctx: TenantContext) {
  app.get(
    '/org/settings/key-policy',
    {
      config: { minRole: 'reader', orgWide: true },
      schema: {
        operationId: 'getKeyPolicy',
        tags: ['org-tokens'],
        summary: 'The org key policy',
        description: ENFORCEMENT,
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        response: { 200: KeyPolicyReply, ...errorResponses(...AUTH_ERRORS, 'INVALID_ADMIN_AUTH') },
      },
    },
    async () => present(await getKeyPolicy(ctx.db)),
  );
}

/** PUT /org/settings/key-policy: replaces the policy (admin only, audited). */
export function putKeyPolicyRoute(app: App, ctx: TenantContext) {
  app.put(
    '/org/settings/key-policy',
    {
      config: { minRole: 'admin', orgWide: true },
      schema: {
        operationId: 'setKeyPolicy',
        tags: ['org-tokens'],
        summary: 'Set the org key policy',
        description: `Replaces the whole policy (both fields required). ${ENFORCEMENT}`,
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        body: KeyPolicyBody,
        response: { 200: KeyPolicyReply, ...errorResponses(...AUTH_ERRORS, 'INVALID_ADMIN_AUTH', 'VALIDATION_FAILED') },
      },
    },
    async (request, reply) => {
      const saved = await saveKeyPolicy(ctx.db, request.principal!, request.body, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return present(saved);
    },
  );
}
