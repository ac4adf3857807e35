import { sql } from 'kysely';
import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import { AuditEvent, presentAuditRow } from '../../../core/audit/query.js';
import type { App } from '../../../core/http/app.js';
import { DomainError } from '../../../core/errors.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { getWorkspace } from '../../workspaces/store.js';
import { saveViewport } from '../service.js';

const RFC3339 = (field: string) =>
  Type.String({ format: 'date-time', description: `RFC 3339 (e.g. 2026-04-17T00:00:00Z).`, 'x-error': `${field} must be RFC 3339 (e.g. 2026-04-17T00:00:00Z)` });

/**
 * GET /workspaces/:id/audit (reference §7): the audit events of requests made to this workspace's routes
 * (`/workspaces/{id}…` and `/admin/workspaces/{id}…`), newest first. The events are links of the org's one hash chain;
 * `chain_valid` is null here — GET /audit/verify verifies the whole chain.
 */
export function workspaceAuditRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces/:id/audit',
    {
      config: { minRole: 'reader' },
      schema: {
        operationId: 'queryWorkspaceAudit',
        tags: ['audit'],
        summary: 'The audit events of this workspace’s routes, newest first',
        description:
          'Every authenticated request to `/workspaces/{id}…` or `/admin/workspaces/{id}…`. `from`/`to` bound the time (RFC 3339; `to` exclusive); `limit` (default 100, at most 500) and `offset` page. `chain_valid` is null: the events are links of the org-wide chain, verified by GET /audit/verify.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        querystring: Type.Object({
          from: Type.Optional(RFC3339('from')),
          to: Type.Optional(RFC3339('to')),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
          offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 })),
        }),
        response: {
          200: Type.Object({ events: Type.Array(AuditEvent), total: Type.Integer(), chain_valid: Type.Null() }),
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_WORKSPACE_AUTH', 'WORKSPACE_NOT_FOUND'),
        },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      if (!(await getWorkspace(ctx.db, id, true))) throw new DomainError('WORKSPACE_NOT_FOUND');
      // Reads are written behind: this request's predecessors become visible first.
      await ctx.auditWriter.flush();
      const { from, to, limit = 100, offset = 0 } = request.query;
      let q = ctx.db
        .selectFrom('audit_events')
        .where((eb) =>
          eb.or([
            eb('path', '=', `/workspaces/${id}`),
            eb('path', 'like', `/workspaces/${id}/%`),
            eb('path', 'like', `/admin/workspaces/${id}/%`),
          ]),
        );
      if (from !== undefined) q = q.where('occurred_at', '>=', new Date(from));
      if (to !== undefined) q = q.where('occurred_at', '<', new Date(to));
      const total = await q.select(sql<string>`count(*)`.as('n')).executeTakeFirstOrThrow();
      const rows = await q.selectAll().orderBy('seq', 'desc').limit(limit).offset(offset).execute();
      return { events: rows.map(presentAuditRow), total: Number(total.n), chain_valid: null };
    },
  );
}


/** PUT /canvas/viewport (reference §1, §2.5): the canvas's last viewport. */
export function canvasViewportRoute(app: App, ctx: TenantContext) {
  const coord = Type.Number({ minimum: -1e9, maximum: 1e9 });
  app.put(
    '/canvas/viewport',
    {
      config: { minRole: 'editor' },
      schema: {
        operationId: 'saveCanvasViewport',
        tags: ['canvas'],
        summary: 'Save the canvas viewport',
        description:
          'The reference’s CanvasOrBearer tier (§2.5) is served by the admin chain: ADMIN_TOKEN, an org key or a session of the canvas (same origin). Unlike the reference, a workspace token is not enough (a runtime has no business moving the canvas).',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        body: Type.Object({ x: coord, y: coord, zoom: Type.Number({ exclusiveMinimum: 0, maximum: 1000 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ status: Type.Literal('saved'), x: Type.Number(), y: Type.Number(), zoom: Type.Number(), updated_at: Type.String({ format: 'date-time' }) }),
          ...errorResponses(...AUTH_ERRORS, 'INVALID_ADMIN_AUTH', 'VALIDATION_FAILED'),
        },
      },
    },
    async (request, reply) => {
      const row = await saveViewport(ctx.db, request.principal!, request.body, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { status: 'saved' as const, x: row.x, y: row.y, zoom: row.zoom, updated_at: new Date(row.updated_at).toISOString() };
    },
  );
}
