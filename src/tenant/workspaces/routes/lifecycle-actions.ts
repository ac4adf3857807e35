import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceIdParams } from '../schemas.js';

const CascadeQuery = Type.Object({
  cascade: Type.Optional(
    Type.Boolean({
      default: false,
      description: 'Also apply to every descendant workspace. A bound credential must have every descendant in scope (404 otherwise).',
    }),
  ),
});
/** Where a bound caller meets descendants it cannot see (issue 7, item 4). */
const SCOPE_NOTE = ' A bound credential (workspace token, key with `workspace_ids`) with a descendant outside its scope → 404, naming nothing.';
const ERRORS = errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_WORKSPACE_AUTH', 'CONFLICT', 'PROVISIONER_UNAVAILABLE');
const security: Array<Record<string, string[]>> = [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }];

export function restartWorkspaceRoute(app: App, ctx: TenantContext) {
  app.post(
    '/workspaces/:id/restart',
    {
      config: { minRole: 'editor', validationError: 'invalid workspace ID' },
      schema: {
        operationId: 'restartWorkspace',
        tags: ['workspaces'],
        summary: 'Restart the workspace’s runtime process (with a fresh environment)',
        description: `Also clears \`failed\`. A paused ancestor → 409. External workspaces are operator-driven → \`{status:"noop"}\`.${SCOPE_NOTE}`,
        security,
        params: WorkspaceIdParams,
        querystring: CascadeQuery,
        response: {
          200: Type.Object({ status: Type.Union([Type.Literal('provisioning'), Type.Literal('noop')]), restarted_count: Type.Integer() }),
          ...ERRORS,
        },
      },
    },
    async (request) => ctx.lifecycle.restart(request.params.id.toLowerCase(), request.query.cascade ?? false, request.principal!.workspaceIds),
  );
}

export function pauseWorkspaceRoute(app: App, ctx: TenantContext) {
  app.post(
    '/workspaces/:id/pause',
    {
      config: { minRole: 'editor', validationError: 'invalid workspace ID' },
      schema: {
        operationId: 'pauseWorkspace',
        tags: ['workspaces'],
        summary: 'Stop the workspace’s process and keep it stopped',
        description: `Live descendants without \`?cascade=true\` → 409 listing them. Already paused → 404.${SCOPE_NOTE}`,
        security,
        params: WorkspaceIdParams,
        querystring: CascadeQuery,
        response: { 200: Type.Object({ status: Type.Literal('paused'), paused_count: Type.Integer() }), ...ERRORS },
      },
    },
    async (request) => ctx.lifecycle.pause(request.params.id.toLowerCase(), request.query.cascade ?? false, request.principal!.workspaceIds),
  );
}

export function resumeWorkspaceRoute(app: App, ctx: TenantContext) {
  app.post(
    '/workspaces/:id/resume',
    {
      config: { minRole: 'editor', validationError: 'invalid workspace ID' },
      schema: {
        operationId: 'resumeWorkspace',
        tags: ['workspaces'],
        summary: 'Start a paused workspace again',
        description: `Not paused → 404. Paused descendants without \`?cascade=true\` → 409 listing them.${SCOPE_NOTE}`,
        security,
        params: WorkspaceIdParams,
        querystring: CascadeQuery,
        response: { 200: Type.Object({ status: Type.Literal('provisioning'), resumed_count: Type.Integer() }), ...ERRORS },
      },
    },
    async (request) => ctx.lifecycle.resume(request.params.id.toLowerCase(), request.query.cascade ?? false, request.principal!.workspaceIds),
  );
}
