import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { Text } from '../../../core/http/input.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { resolveWorkspaceEnv, SecretsUnreadableError } from '../../secrets/store.js';
import { WorkspaceIdParams, WorkspaceStatusSchema } from '../../workspaces/schemas.js';
import { getWorkspace } from '../../workspaces/store.js';
import { readModel, writeModel } from '../service.js';

/** The workspace tier: the admin chain or the `:id` workspace's own token (reference "WS"). */
const security: Array<Record<string, string[]>> = [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }];
const WS_ERRORS = [...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_WORKSPACE_AUTH'] as const;

/** GET /workspaces/:id/state (reference §3.4): a small status probe; a gone workspace answers 404 saying so. */
export function workspaceStateRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces/:id/state',
    {
      config: { minRole: 'reader', validationError: 'invalid workspace ID' },
      schema: {
        operationId: 'getWorkspaceState',
        tags: ['workspaces'],
        summary: 'The workspace’s status, and whether it is paused or deleted',
        description:
          'Unknown → 404 `{workspace_id, deleted:true}`; removed → 404 `{workspace_id, status:"removed", deleted:true}`. Unlike the reference, the admin chain may read it too (the same status is on GET /workspaces/:id).',
        security,
        params: WorkspaceIdParams,
        response: {
          200: Type.Object({ workspace_id: Type.String(), status: WorkspaceStatusSchema, paused: Type.Boolean(), deleted: Type.Literal(false) }),
          ...errorResponses(...WS_ERRORS, 'WORKSPACE_NOT_FOUND'),
        },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      const ws = await getWorkspace(ctx.db, id, true);
      if (!ws) throw new DomainError('WORKSPACE_NOT_FOUND', undefined, { workspace_id: id, deleted: true });
      if (ws.status === 'removed') throw new DomainError('WORKSPACE_NOT_FOUND', undefined, { workspace_id: id, status: 'removed', deleted: true });
      return { workspace_id: id, status: ws.status, paused: ws.status === 'paused', deleted: false as const };
    },
  );
}

/** POST /workspaces/:id/hibernate (reference §3.4). */
export function hibernateWorkspaceRoute(app: App, ctx: TenantContext) {
  app.post(
    '/workspaces/:id/hibernate',
    {
      config: { minRole: 'editor', validationError: 'invalid workspace ID' },
      schema: {
        operationId: 'hibernateWorkspace',
        tags: ['workspaces'],
        summary: 'Stop an online workspace’s process until it is restarted or resumed',
        description:
          'Only an `online` or `degraded` workspace (else 404). Active tasks without `?force=true` → 409 with `active_tasks`. The status goes `hibernating` → `hibernated`; POST …/restart or …/resume wakes it.',
        security,
        params: WorkspaceIdParams,
        querystring: Type.Object({ force: Type.Optional(Type.Boolean({ default: false, description: 'Hibernate even with active tasks (they are terminated).' })) }),
        response: {
          200: Type.Object({ status: Type.Literal('hibernated') }),
          ...errorResponses(...WS_ERRORS, 'WORKSPACE_NOT_FOUND', 'CONFLICT'),
        },
      },
    },
    async (request) => ctx.lifecycle.hibernate(request.params.id.toLowerCase(), request.query.force ?? false),
  );
}

export function getModelRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces/:id/model',
    {
      config: { minRole: 'reader', validationError: 'invalid workspace ID' },
      schema: {
        operationId: 'getWorkspaceModel',
        tags: ['workspaces'],
        summary: 'The model the workspace runs',
        description:
          'The `MODEL` workspace secret (`source: "workspace_secrets"`), else the model it was created with (`"workspace"`), else `{model:"", source:"unresolved"}`.',
        security,
        params: WorkspaceIdParams,
        response: {
          200: Type.Object({ model: Type.String(), source: Type.Union([Type.Literal('workspace_secrets'), Type.Literal('workspace'), Type.Literal('unresolved')]) }),
          ...errorResponses(...WS_ERRORS, 'WORKSPACE_NOT_FOUND'),
        },
      },
    },
    async (request) => readModel(ctx, request.params.id.toLowerCase()),
  );
}

export function setModelRoute(app: App, ctx: TenantContext) {
  app.put(
    '/workspaces/:id/model',
    {
      config: { minRole: 'editor' },
      schema: {
        operationId: 'setWorkspaceModel',
        tags: ['workspaces'],
        summary: 'Set (or clear, with "") the model the workspace runs',
        description: 'Stored as the `MODEL` workspace secret (encrypted) and on the workspace; the workspace restarts to pick it up.',
        security,
        params: WorkspaceIdParams,
        body: Type.Object({ model: Text({ maxLength: 200, pattern: '^[^\\s]*$', 'x-error': { pattern: 'must not contain whitespace' } }) }, { additionalProperties: false }),
        response: {
          200: Type.Union([Type.Object({ status: Type.Literal('cleared') }), Type.Object({ status: Type.Literal('saved'), model: Type.String() })]),
          ...errorResponses(...WS_ERRORS, 'WORKSPACE_NOT_FOUND'),
        },
      },
    },
    async (request, reply) => {
      const out = await writeModel(ctx, request.params.id.toLowerCase(), request.body.model, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return out;
    },
  );
}

/** GET/PUT /workspaces/:id/provider (reference §3.7, EO): retired, 410 with a structured body. */
export function providerGoneRoute(app: App) {
  for (const [method, operationId] of [
    ['GET', 'getWorkspaceProvider'],
    ['PUT', 'setWorkspaceProvider'],
  ] as const) {
    app.route({
      method,
      url: '/workspaces/:id/provider',
      config: { minRole: method === 'GET' ? 'reader' : 'editor', validationError: 'invalid workspace ID' },
      schema: {
        operationId,
        tags: ['workspaces'],
        summary: 'Retired: the provider follows from the model (410)',
        description: 'Always 410 `ENDPOINT_GONE`, naming the replacement (`PUT /workspaces/{id}/model`). A body, if any, is ignored.',
        security,
        params: WorkspaceIdParams,
        response: { ...errorResponses(...WS_ERRORS, 'ENDPOINT_GONE') },
      },
      handler: async (request) => {
        throw new DomainError('ENDPOINT_GONE', 'the provider endpoint was retired: the provider follows from the model — use PUT /workspaces/{id}/model', {
          workspace_id: request.params.id.toLowerCase(),
          replacement: 'PUT /workspaces/{id}/model',
        });
      },
    });
  }
}

/**
 * GET /workspaces/:id/secrets/values (reference §3.7): the decrypted environment, for the workspace's OWN token
 * only — the admin chain passes the tier but is refused here (403), and, unlike the reference, a workspace with no
 * token on file is not grandfathered. All or nothing: one value that cannot be decrypted → 500 naming them all.
 */
export function secretValuesRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces/:id/secrets/values',
    {
      config: { minRole: 'reader', validationError: 'invalid workspace ID' },
      schema: {
        operationId: 'getWorkspaceSecretValues',
        tags: ['secrets'],
        summary: 'The workspace’s decrypted environment (its own token only)',
        description:
          'A flat `{KEY: value}`: org-wide secrets, overridden by the workspace’s own. Only the workspace’s own token may read it: any other credential → 403 `WORKSPACE_TOKEN_REQUIRED`. A value that cannot be decrypted → 500 with `failed_keys`, nothing returned.',
        security: [{ workspaceToken: [] }],
        params: WorkspaceIdParams,
        response: {
          200: Type.Record(Type.String(), Type.String()),
          ...errorResponses(...WS_ERRORS, 'WORKSPACE_NOT_FOUND', 'WORKSPACE_TOKEN_REQUIRED'),
        },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      const p = request.principal!;
      if (p.class !== 'workspace-token' || p.workspaceIds?.length !== 1 || p.workspaceIds[0] !== id) {
        throw new DomainError('WORKSPACE_TOKEN_REQUIRED');
      }
      if (!(await getWorkspace(ctx.db, id))) throw new DomainError('WORKSPACE_NOT_FOUND');
      try {
        return await resolveWorkspaceEnv(ctx.db, ctx.cipher, id);
      } catch (err) {
        if (err instanceof SecretsUnreadableError) {
          throw new DomainError('INTERNAL', 'one or more secrets failed to decrypt; refusing to return partial bundle', { failed_keys: err.failedKeys });
        }
        throw err;
      }
    },
  );
}
