import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { enforceRateLimit } from '../../../core/http/rate-limit.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { presentOrgToken } from '../present.js';
import { MINT_WARNING, MintedOrgToken, OrgTokenId } from '../schemas.js';
import { rotateOrgToken } from '../service.js';
import { MINT_WINDOW_MS } from './mint.js';

export const OrgTokenRotateRequest = Type.Object(
  {
    grace_seconds: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 30 * 24 * 3600, default: 3600, description: 'How long the old key keeps working; 0 revokes it now.' }),
    ),
    expires_at: Type.Optional(
      Type.Union([Type.String({ format: 'date-time', 'x-error': 'must be an RFC 3339 date-time' }), Type.Null()], {
        description: 'Absent: the old key’s expiry. Honoured as given only for a caller that never expires; otherwise clamped.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const RotatedOrgToken = Type.Object({
  ...MintedOrgToken.properties,
  previous_expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the old key stops working.' }),
});

export default function rotateOrgTokenRoute(app: App, ctx: TenantContext) {
  app.post(
    '/org/tokens/:id/rotate',
    {
      config: { minRole: 'admin' },
      schema: {
        operationId: 'rotateOrgToken',
        tags: ['org-tokens'],
        summary: 'Rotate an org API key with an overlap window',
        description: 'Mints a new key with the same name, role, workspace binding and expiry. The old key keeps working for `grace_seconds` (default 3600; 0 = revoke now) and is retiring meanwhile: it can no longer mint, rotate or revoke keys (403 `KEY_RETIRING`). Only a caller that never expires may give the new key another lifetime by naming `expires_at` (null: none); anyone else’s `expires_at` is clamped to the old key’s expiry and their own.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: Type.Object({ id: OrgTokenId }),
        body: OrgTokenRotateRequest,
        response: { 200: RotatedOrgToken, ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'TOKEN_NOT_FOUND', 'INVALID_ADMIN_AUTH', 'KEY_RETIRING') },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      await enforceRateLimit(reply, ctx.rateLimiter, `org-token-mint:${principal.actor}`, ctx.config.ORG_TOKEN_MINT_LIMIT, MINT_WINDOW_MS);
      const result = await rotateOrgToken(
        ctx.db,
        principal,
        request.params.id,
        { graceSeconds: request.body.grace_seconds ?? 3600, expiresAt: request.body.expires_at },
        auditEventForReply(reply, 200),
      );
      request.auditWritten = true;
      // Revoked now (grace 0): its open event streams end now. With a grace period they end when it expires.
      if ((request.body.grace_seconds ?? 3600) === 0) ctx.streams.credentialRevoked(request.params.id);
      return {
        ...presentOrgToken(result.row),
        auth_token: result.plaintext,
        warning: MINT_WARNING,
        previous_expires_at: result.previousExpiresAt ? result.previousExpiresAt.toISOString() : null,
      };
    },
  );
}
