/** Toolsets `secrets` (keys and metadata only: a value goes in, never comes out) and `keys` (org keys, workspace tokens). */
import * as z from 'zod/v4';
import type { ToolContext } from '../tool.js';
import { DESTROY, READ, ToolRefusal, tool, WRITE, WRITE_IDEMPOTENT, workspaceId } from '../tool.js';

const secretKey = z.string().min(1).max(256).describe('The secret\'s name, e.g. OPENAI_API_KEY.');
const secretValue = z.string().max(65536).describe('The secret value. It is stored encrypted and never returned by any tool.');

async function orgKeyLabel(ctx: ToolContext, id: string): Promise<string> {
  let cursor: string | undefined;
  for (;;) {
    const { data } = await ctx.tenant.GET('/org/tokens', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } });
    const hit = data!.tokens.find((t) => t.id === id);
    if (hit) return hit.name ?? hit.prefix;
    if (!data!.next_cursor) throw new ToolRefusal(`org key ${id} not found`);
    cursor = data!.next_cursor;
  }
}

async function workspaceTokenPrefix(ctx: ToolContext, workspace: string, id: string): Promise<string> {
  const { data } = await ctx.tenant.GET('/workspaces/{id}/tokens', { params: { path: { id: workspace }, query: { limit: 200 } } });
  const hit = data!.tokens.find((t) => t.id === id);
  if (!hit) throw new ToolRefusal(`workspace token ${id} not found`);
  return hit.prefix;
}

export const secretTools = [
  tool({
    name: 'list_workspace_secrets',
    title: 'List workspace secrets',
    description: 'The secret names a workspace sees (its own and org-wide ones), never their values.',
    toolset: 'secrets',
    minRole: 'reader',
    scope: 'workspace',
    workspaceToken: true,
    annotations: READ,
    input: { workspace_id: workspaceId },
    handler: async (args, ctx) => (await ctx.tenant.GET('/workspaces/{id}/secrets', { params: { path: { id: args.workspace_id } } })).data!.map(({ key, scope, updated_at }) => ({ key, scope, updated_at })),
  }),
  tool({
    name: 'set_workspace_secret',
    title: 'Set a workspace secret',
    description: 'Create or replace a secret of one workspace (given to its runtime as an environment variable). With an approval-required key this files an approval and returns its id.',
    toolset: 'secrets',
    minRole: 'editor',
    scope: 'workspace',
    workspaceToken: true,
    annotations: WRITE_IDEMPOTENT,
    input: { workspace_id: workspaceId, key: secretKey, value: secretValue },
    handler: async (args, ctx) => (await ctx.tenant.POST('/workspaces/{id}/secrets', { params: { path: { id: args.workspace_id } }, body: { key: args.key, value: args.value } })).data,
  }),
  tool({
    name: 'delete_workspace_secret',
    title: 'Delete a workspace secret',
    description: 'Remove a secret of one workspace. `confirm_name` must be the secret\'s key.',
    toolset: 'secrets',
    minRole: 'editor',
    scope: 'workspace',
    workspaceToken: true,
    annotations: DESTROY,
    input: { workspace_id: workspaceId, key: secretKey },
    confirmWhat: "the secret's key",
    confirmName: async (args) => args.key,
    handler: async (args, ctx) => (await ctx.tenant.DELETE('/workspaces/{id}/secrets/{key}', { params: { path: { id: args.workspace_id, key: args.key } } })).data ?? { status: 'deleted', key: args.key },
  }),
  tool({
    name: 'list_global_secrets',
    title: 'List org-wide secrets',
    description: 'The names of the secrets every workspace of the org sees, never their values.',
    toolset: 'secrets',
    minRole: 'reader',
    scope: 'org',
    workspaceToken: false,
    annotations: READ,
    input: {},
    handler: async (_args, ctx) => (await ctx.tenant.GET('/settings/secrets')).data!.map(({ key, updated_at }) => ({ key, updated_at })),
  }),
  tool({
    name: 'set_global_secret',
    title: 'Set an org-wide secret',
    description: 'Create or replace a secret every workspace of the org sees. With an approval-required key this files an approval and returns its id.',
    toolset: 'secrets',
    minRole: 'admin',
    scope: 'org',
    workspaceToken: false,
    annotations: WRITE_IDEMPOTENT,
    input: { key: secretKey, value: secretValue },
    handler: async (args, ctx) => (await ctx.tenant.POST('/settings/secrets', { body: { key: args.key, value: args.value } })).data,
  }),
  tool({
    name: 'delete_global_secret',
    title: 'Delete an org-wide secret',
    description: 'Remove an org-wide secret. `confirm_name` must be the secret\'s key.',
    toolset: 'secrets',
    minRole: 'admin',
    scope: 'org',
    workspaceToken: false,
    annotations: DESTROY,
    input: { key: secretKey },
    confirmWhat: "the secret's key",
    confirmName: async (args) => args.key,
    handler: async (args, ctx) => (await ctx.tenant.DELETE('/settings/secrets/{key}', { params: { path: { key: args.key } } })).data ?? { status: 'deleted', key: args.key },
  }),
];

export const keyTools = [
  tool({
    name: 'list_org_tokens',
    title: 'List org API keys',
    description: 'The org\'s live API keys: id, name, display prefix, role, workspace binding, expiry, last use. Never the keys themselves.',
    toolset: 'keys',
    minRole: 'reader',
    scope: 'any',
    workspaceToken: false,
    annotations: READ,
    input: { limit: z.number().int().min(1).max(100).optional(), cursor: z.string().optional().describe('next_cursor of the previous page.') },
    handler: async (args, ctx) => (await ctx.tenant.GET('/org/tokens', { params: { query: args } })).data,
  }),
  tool({
    name: 'mint_org_token',
    title: 'Mint an org API key',
    description:
      'Create an org API key, never stronger or wider than the key that mints it. The key is in the answer once (auth_token). With an approval-required key this files an approval and returns its id.',
    toolset: 'keys',
    minRole: 'admin',
    scope: 'any',
    workspaceToken: false,
    annotations: WRITE,
    input: {
      name: z.string().max(100).optional().describe('A label for the key.'),
      role: z.enum(['admin', 'editor', 'reader']).optional().describe('Default admin.'),
      workspace_ids: z.array(z.uuid()).optional().describe('Confine the key to these workspaces.'),
      expires_at: z.string().optional().describe('ISO 8601 expiry.'),
      approval_required: z.boolean().optional().describe('Every gated action and delete of the new key waits for a human approval.'),
    },
    handler: async (args, ctx) => (await ctx.tenant.POST('/org/tokens', { body: args })).data,
  }),
  tool({
    name: 'rotate_org_token',
    title: 'Rotate an org API key',
    description: 'Mint a replacement with the same scope; the old key keeps working for grace_seconds. The new key is in the answer once.',
    toolset: 'keys',
    minRole: 'admin',
    scope: 'any',
    workspaceToken: false,
    annotations: WRITE,
    input: { token_id: z.string().describe('The key\'s id (tok_…).'), grace_seconds: z.number().int().min(0).optional() },
    handler: async (args, ctx) =>
      (await ctx.tenant.POST('/org/tokens/{id}/rotate', { params: { path: { id: args.token_id } }, body: args.grace_seconds === undefined ? {} : { grace_seconds: args.grace_seconds } })).data,
  }),
  tool({
    name: 'revoke_org_token',
    title: 'Revoke an org API key',
    description: 'Revoke an org API key at once on every replica. `confirm_name` must be the key\'s name (or its display prefix when it has none).',
    toolset: 'keys',
    minRole: 'admin',
    scope: 'any',
    workspaceToken: false,
    annotations: DESTROY,
    input: { token_id: z.string().describe('The key\'s id (tok_…).') },
    confirmWhat: "the key's name (or its display prefix when it has none)",
    confirmName: (args, ctx) => orgKeyLabel(ctx, args.token_id),
    handler: async (args, ctx) => (await ctx.tenant.DELETE('/org/tokens/{id}', { params: { path: { id: args.token_id } } })).data ?? { status: 'revoked', id: args.token_id },
  }),
  tool({
    name: 'list_workspace_tokens',
    title: 'List workspace tokens',
    description: 'The live tokens of one workspace: id, display prefix, kind, last use.',
    toolset: 'keys',
    minRole: 'reader',
    scope: 'workspace',
    workspaceToken: true,
    annotations: READ,
    input: { workspace_id: workspaceId },
    handler: async (args, ctx) => (await ctx.tenant.GET('/workspaces/{id}/tokens', { params: { path: { id: args.workspace_id } } })).data,
  }),
  tool({
    name: 'mint_workspace_token',
    title: 'Mint a workspace token',
    description: 'Create a token valid for this one workspace. The token is in the answer once (auth_token).',
    toolset: 'keys',
    minRole: 'editor',
    scope: 'workspace',
    workspaceToken: true,
    annotations: WRITE,
    input: { workspace_id: workspaceId },
    handler: async (args, ctx) => (await ctx.tenant.POST('/workspaces/{id}/tokens', { params: { path: { id: args.workspace_id } }, body: {} })).data,
  }),
  tool({
    name: 'revoke_workspace_token',
    title: 'Revoke a workspace token',
    description: 'Revoke one token of a workspace. `confirm_name` must be the token\'s display prefix (molw_…).',
    toolset: 'keys',
    minRole: 'editor',
    scope: 'workspace',
    workspaceToken: true,
    annotations: DESTROY,
    input: { workspace_id: workspaceId, token_id: z.string().describe('The token\'s id.') },
    confirmWhat: "the token's display prefix (molw_…)",
    confirmName: (args, ctx) => workspaceTokenPrefix(ctx, args.workspace_id, args.token_id),
    handler: async (args, ctx) =>
      (await ctx.tenant.DELETE('/workspaces/{id}/tokens/{tokenId}', { params: { path: { id: args.workspace_id, tokenId: args.token_id } } })).data ?? { status: 'revoked', id: args.token_id },
  }),
];
