import { Readable } from 'node:stream';
import type { FastifyContextConfig } from 'fastify';
import type { Kysely } from 'kysely';
import { Type, type TProperties } from 'typebox';
import type { App } from '../http/app.js';
import { errorResponses } from '../http/responses.js';
import type { ErrorCode } from '../errors.js';
import { BIGINT_SAFE_MAX } from '../http/input.js';
import { AnchorLookupSchema, checkAgainstAnchor, type AnchorLookup } from './anchor.js';
import { verifyChain } from './chain.js';
import { AuditEvent, AuditFilterQuery, iterateAudit, presentAuditRow, queryAudit } from './query.js';
import type { AuditSchema } from './schema.js';
import type { AuditWriter } from './writer.js';

/**
 * The three audit routes (query, verify, export), shared by the tenant (`/audit`, org admins) and the control plane
 * (`/admin/audit`, the CP admin bearer). Each service has its own chain in its own database; only the path, the
 * auth tier and the words differ.
 */
export interface AuditRouteOptions {
  /** `/audit` on the tenant, `/admin/audit` on the control plane. */
  path: string;
  db: Kysely<AuditSchema>;
  writer: AuditWriter;
  /** Route config the mounting tier reads (minRole, orgWide). */
  config: FastifyContextConfig;
  security: Array<Record<string, string[]>>;
  /** Error codes the tier can answer with, for the OpenAPI entry. */
  errors: ErrorCode[];
  /** Prefix for operation ids, so the two services' documents read naturally (`queryAudit`, `queryCpAudit`). */
  operationNoun?: string;
  /**
   * Where the chain's anchor is kept (a tenant: its control plane). Set: verify also holds the chain to it and says
   * how (`anchor`); unset (the control plane's own chain): verify is the local check alone.
   */
  anchor?: () => Promise<AnchorLookup>;
  /**
   * Documents the anchor fields (optional) whether or not this deployment has an anchor, so the API document does not
   * depend on configuration: the tenant sets it, the control plane (which has no anchor) does not.
   */
  anchorable?: boolean;
}

export function registerAuditRoutes(app: App, o: AuditRouteOptions): void {
  const noun = o.operationNoun ?? 'Audit';
  app.get(
    o.path,
    {
      config: o.config,
      schema: {
        operationId: `query${noun}`,
        tags: ['audit'],
        summary: 'Query the audit trail, newest first',
        description: 'Every authenticated request is one event. Filter by actor, credential, method, path prefix, status and time; page with `cursor`.',
        security: o.security,
        querystring: Type.Object({
          ...AuditFilterQuery.properties,
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          cursor: Type.Optional(Type.Integer({ minimum: 1, maximum: BIGINT_SAFE_MAX, description: '`next_cursor` from the previous page.' })),
        }),
        response: {
          200: Type.Object({ events: Type.Array(AuditEvent), count: Type.Integer(), next_cursor: Type.Union([Type.Integer(), Type.Null()]) }),
          ...errorResponses(...o.errors, 'VALIDATION_FAILED'),
        },
      },
    },
    async (request) => {
      // Make this request's own predecessors visible: reads are written behind, so flush before querying.
      await o.writer.flush();
      const { limit = 100, cursor, ...filter } = request.query;
      const rows = await queryAudit(o.db, filter, limit, cursor);
      const events = rows.map(presentAuditRow);
      return { events, count: events.length, next_cursor: rows.length === limit ? events[events.length - 1]!.seq : null };
    },
  );

  // Only a chain with an anchor documents (and answers with) the anchor fields.
  const anchorFields: TProperties = o.anchorable ? { anchor: Type.Optional(AnchorLookupSchema) } : {};
  const anchoredFields: TProperties = o.anchorable ? { anchored_count: Type.Optional(Type.Integer()), anchored_hash: Type.Optional(Type.String()) } : {};
  app.get(
    `${o.path}/verify`,
    {
      config: o.config,
      schema: {
        operationId: `verify${noun}`,
        tags: ['audit'],
        summary: 'Prove the audit chain unbroken',
        description: o.anchorable
          ? 'Recomputes every hash. `{ok:true, count, head}`, or `{ok:false, broken_at, reason}` naming the first row altered, removed or reordered. A tenant provisioned by a control plane also holds the chain to the anchor it reported there (`anchor`): `behind anchor` / `diverged from anchor` (with `anchored_count`, `anchored_hash`) when the newest rows were removed or rewritten; `anchor.checked:false` says why the anchor could not be consulted, and the local result then stands.'
          : 'Recomputes every hash. `{ok:true, count, head}`, or `{ok:false, broken_at}` naming the first row that was altered, removed or reordered.',
        security: o.security,
        response: {
          200: Type.Union([
            Type.Object({ ok: Type.Literal(true), count: Type.Integer(), head: Type.String(), ...anchorFields }),
            Type.Object({
              ok: Type.Literal(false),
              count: Type.Integer(),
              broken_at: Type.Integer(),
              event_id: Type.Union([Type.String(), Type.Null()]),
              reason: Type.String(),
              ...anchorFields,
              ...anchoredFields,
            }),
          ]),
          ...errorResponses(...o.errors),
        },
      },
    },
    async () => {
      await o.writer.flush();
      const local = await verifyChain(o.db);
      if (!o.anchor) return local;
      return checkAgainstAnchor(o.db, local, await o.anchor());
    },
  );

  app.get(
    `${o.path}/export`,
    {
      config: o.config,
      schema: {
        operationId: `export${noun}`,
        tags: ['audit'],
        summary: 'Export the audit trail as NDJSON, oldest first',
        description: `One JSON event per line (\`application/x-ndjson\`), streamed; the same filters as GET ${o.path}.`,
        security: o.security,
        querystring: AuditFilterQuery,
        response: errorResponses(...o.errors, 'VALIDATION_FAILED'),
      },
    },
    async (request, reply) => {
      await o.writer.flush();
      const rows = iterateAudit(o.db, request.query);
      const stream = Readable.from(
        (async function* () {
          for await (const row of rows) yield JSON.stringify(presentAuditRow(row)) + '\n';
        })(),
      );
      reply.type('application/x-ndjson').header('content-disposition', 'attachment; filename="audit.ndjson"');
      return reply.send(stream as never); // a stream, not a schema-shaped object
    },
  );
}
