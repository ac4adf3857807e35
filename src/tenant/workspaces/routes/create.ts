import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import { UUID_PATTERN } from '../../../core/ids.js';
import { SECRET_KEY_MAX, SECRET_KEY_PATTERN, SECRET_VALUE_MAX } from '../../secrets/schemas.js';
import type { TenantContext } from '../../context.js';
import { presentWorkspace } from '../present.js';
import { Workspace } from '../schemas.js';
import { createWorkspace } from '../service.js';
import { BIGINT_SAFE_MAX, JsonObject, TEXT_FORMAT, Text } from '../../../core/http/input.js';

const NO_NEWLINES = '^[^\\n\\r]*$';

export const WorkspaceCreateRequest = Type.Object(
  {
    name: Text({ minLength: 1, maxLength: 255 }),
    role: Type.Optional(Type.Union([Text({ maxLength: 1000 }), Type.Null()])),
    tier: Type.Optional(Type.Integer({ minimum: 1, maximum: 4, description: 'Isolation tier 1-4; default 3.' })),
    runtime: Type.Optional(Text({ maxLength: 100, pattern: NO_NEWLINES })),
    template: Type.Optional(Type.Union([Text({ minLength: 1, maxLength: 200 }), Type.Null()])),
    model: Type.Optional(Type.Union([Text({ maxLength: 100, pattern: NO_NEWLINES }), Type.Null()])),
    parent_id: Type.Optional(Type.Union([Type.String({ pattern: UUID_PATTERN, 'x-error': 'must be a workspace UUID' }), Type.Null()])),
    llm_provider: Type.Optional(Type.Union([Text({ maxLength: 100 }), Type.Null()], { description: 'Accepted for compatibility; unused.' })),
    external: Type.Optional(Type.Boolean({ description: 'An agent run by the operator, not by this platform: no process is started.' })),
    url: Type.Optional(Type.Union([Text({ maxLength: 2048, pattern: '^https?://', 'x-error': 'must be an http(s) URL' }), Type.Null()])),
    delivery_mode: Type.Optional(Text({ maxLength: 16 })),
    workspace_dir: Type.Optional(Type.Union([Text({ maxLength: 1024 }), Type.Null()])),
    workspace_access: Type.Optional(Text({ maxLength: 16 })),
    budget_limit: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: BIGINT_SAFE_MAX, 'x-error': 'must be >= 0 (USD cents)' }), Type.Null()])),
    // Written out as JSON Schema: a record's key pattern must reach the validator as propertyNames, or any key
    // (`bad-key`) would be stored.
    secrets: Type.Optional(
      Type.Unsafe<Record<string, string>>({
        type: 'object',
        propertyNames: { type: 'string', pattern: SECRET_KEY_PATTERN, maxLength: SECRET_KEY_MAX },
        additionalProperties: { type: 'string', format: TEXT_FORMAT, minLength: 1, maxLength: SECRET_VALUE_MAX },
        maxProperties: 200,
        description: 'Workspace secrets to store (encrypted) with the workspace; keys `^[A-Z_][A-Z0-9_]*$`.',
      }),
    ),
    max_concurrent_tasks: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    compute: Type.Optional(JsonObject({ description: 'Kept as given; interpreted by container backends.' })),
    canvas: Type.Optional(Type.Object({ x: Type.Number(), y: Type.Number() }, { additionalProperties: false })),
    initial_memories: Type.Optional(
      Type.Array(
        Type.Object(
          { content: Text({ minLength: 1, maxLength: 100_000 }), scope: Type.Optional(Type.Union([Type.Literal('LOCAL'), Type.Literal('TEAM'), Type.Literal('GLOBAL')])) },
          { additionalProperties: false },
        ),
        { maxItems: 100 },
      ),
    ),
  },
  { additionalProperties: false },
);
export type WorkspaceCreateRequest = Static<typeof WorkspaceCreateRequest>;

export const WorkspaceCreateResponse = Type.Object({
  ...Workspace.properties,
  // The workspace's first API token, shown once; it survives restarts (reference §2.10, core#1644).
  auth_token: Type.String({ description: 'A workspace token (`molw_…`) for this workspace only. Shown once.' }),
  token_id: Type.String(),
});

export default function createWorkspaceRoute(app: App, ctx: TenantContext) {
  app.post(
    '/workspaces',
    {
      config: { minRole: 'editor', orgWide: true, validationError: 'invalid workspace payload' },
      schema: {
        operationId: 'createWorkspace',
        tags: ['workspaces'],
        summary: 'Create a workspace',
        description: 'Creates the record in `provisioning` and returns its first workspace token once. Unknown fields are refused.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        body: WorkspaceCreateRequest,
        response: { 201: WorkspaceCreateResponse, ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'CONFLICT', 'INVALID_ADMIN_AUTH') },
      },
    },
    async (request, reply) => {
      const created = await createWorkspace(ctx, request.principal!, request.body, auditEventForReply(reply, 201));
      request.auditWritten = true;
      return reply.code(201).send({
        ...presentWorkspace(created.workspace, null),
        auth_token: created.token.plaintext,
        token_id: created.token.id,
      });
    },
  );
}
