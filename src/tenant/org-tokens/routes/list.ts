import { Type, type Static } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { presentOrgToken } from '../present.js';
import { OrgToken, OrgTokenId } from '../schemas.js';
import { canManageKey } from '../service.js';
import { listLiveOrgTokens } from '../store.js';

export const OrgTokenListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 500, description: 'Page size (the reference returns up to 500).' })),
  cursor: Type.Optional(OrgTokenId),
});

export const OrgTokenListResponse = Type.Object({
  tokens: Type.Array(OrgToken),
  count: Type.Integer({ description: 'Number of keys in this page.' }),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last.' }),
});
export type OrgTokenListResponse = Static<typeof OrgTokenListResponse>;

export default function listOrgTokensRoute(app: App, ctx: TenantContext) {
  app.get(
    '/org/tokens',
    {
      config: { minRole: 'reader' },
      schema: {
        operationId: 'listOrgTokens',
        tags: ['org-tokens'],
        summary: 'List live org API keys, newest first',
        description: 'Revoked and expired keys are omitted. Never returns a plaintext key or a hash. A workspace-bound caller sees only keys within its binding.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        querystring: OrgTokenListQuery,
        response: { 200: OrgTokenListResponse, ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_ADMIN_AUTH') },
      },
    },
    async (request) => {
      const principal = request.principal!;
      const limit = request.query.limit ?? 500;
      const rows = await listLiveOrgTokens(ctx.db, { limit, before: request.query.cursor });
      const visible = principal.workspaceIds === null ? rows : rows.filter((r) => canManageKey(principal, r, false));
      return {
        tokens: visible.map(presentOrgToken),
        count: visible.length,
        next_cursor: rows.length === limit ? rows[rows.length - 1]!.id : null,
      };
    },
  );
}
