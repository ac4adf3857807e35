import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { enforceRateLimit } from '../../../core/http/rate-limit.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { presentOrgToken } from '../present.js';
import { MINT_WARNING, MintedOrgToken, RoleSchema, WorkspaceBinding } from '../schemas.js';
import { mintOrgToken } from '../service.js';
import { Text } from '../../../core/http/input.js';
import { holdForApproval } from '../../approvals/gate.js';
import { PendingApprovalReply } from '../../approvals/schemas.js';

export const OrgTokenMintRequest = Type.Object(
  {
    name: Type.Optional(
      Type.Union([
        Text({
          maxLength: 100,
          pattern: '^[^\\u0000-\\u001f\\u007f]*$',
          // The reference's exact words for the length rule (§3.9); clients match on them.
          'x-error': { maxLength: 'name too long (max 100 chars)', pattern: 'name must not contain control characters' },
        }),
        Type.Null(),
      ]),
    ),
    role: Type.Optional(RoleSchema),
    workspace_ids: Type.Optional(WorkspaceBinding),
    expires_at: Type.Optional(Type.Union([Type.String({ format: 'date-time', 'x-error': 'must be an RFC 3339 date-time' }), Type.Null()])),
    approval_required: Type.Optional(
      Type.Boolean({ description: 'Every gated action and every DELETE of the new key needs a human approval. Default: the caller’s own (a key that has it cannot mint one without it).' }),
    ),
  },
  { additionalProperties: false },
);
export type OrgTokenMintRequest = Static<typeof OrgTokenMintRequest>;

/** Mint rate limit window: the reference's 10 per hour per client (§9.1). */
export const MINT_WINDOW_MS = 60 * 60 * 1000;

export default function mintOrgTokenRoute(app: App, ctx: TenantContext) {
  app.post(
    '/org/tokens',
    {
      config: { minRole: 'admin' },
      schema: {
        operationId: 'mintOrgToken',
        tags: ['org-tokens'],
        summary: 'Mint an org API key (shown once)',
        description:
          'Returns the plaintext key exactly once. Gated by the approval gate (`org_token_mint`): 202 `pending_approval` until another principal approves, then the identical request mints once. Rate-limited per client (ORG_TOKEN_MINT_LIMIT per hour). A caller can only mint keys no stronger, no wider and no longer-lived than itself: an absent or later `expires_at` is clamped to the caller’s own expiry, and the response shows the effective one. A retiring key (replaced by a rotation) → 403 `KEY_RETIRING`. The org key policy (GET /org/settings/key-policy) judges the effective expiry: 422 `KEY_POLICY_EXPIRY_REQUIRED` or `KEY_POLICY_LIFETIME_EXCEEDED`, naming the rule.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        body: OrgTokenMintRequest,
        response: { 200: MintedOrgToken, 202: PendingApprovalReply, ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_ADMIN_AUTH', 'KEY_RETIRING', 'KEY_POLICY_EXPIRY_REQUIRED', 'KEY_POLICY_LIFETIME_EXCEEDED') },
      },
    },
    async (request, reply) => {
      const principal = request.principal!; // set by the admin tier's hook
      await enforceRateLimit(reply, ctx.rateLimiter, `org-token-mint:${principal.actor}`, ctx.config.ORG_TOKEN_MINT_LIMIT, MINT_WINDOW_MS);
      const b = request.body;
      const gate = {
        action: 'org_token_mint' as const,
        workspaceId: null,
        reason: `mint org token ${b.name ?? ''}`.trim(),
        context: { name: b.name ?? null, role: b.role ?? null, workspace_ids: b.workspace_ids ?? null, expires_at: b.expires_at ?? null, approval_required: b.approval_required ?? null },
      };
      if (await holdForApproval(ctx, request, reply, gate)) return reply;
      const { row, plaintext } = await mintOrgToken(ctx.db, principal, request.body, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { ...presentOrgToken(row), auth_token: plaintext, warning: MINT_WARNING };
    },
  );
}
