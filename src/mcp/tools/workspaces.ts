/** Toolset `workspaces`: the reference management MCP's workspace tools (same names and argument names). */
import * as z from 'zod/v4';
import type { ToolContext } from '../tool.js';
import { DESTROY, READ, tool, WRITE, WRITE_IDEMPOTENT, workspaceId } from '../tool.js';

export async function workspaceName(ctx: ToolContext, id: string): Promise<string> {
  const { data } = await ctx.tenant.GET('/workspaces/{id}', { params: { path: { id } } });
  return data!.name;
}

const cascade = z.boolean().optional().describe('Also act on the workspace\'s descendants.');

export const workspaceTools = [
  tool({
    name: 'list_workspaces',
    title: 'List workspaces',
    description: 'Every workspace this credential can see (a workspace-bound key sees only its own): id, name, status, template, parent.',
    toolset: 'workspaces',
    minRole: 'reader',
    scope: 'any',
    workspaceToken: false,
    annotations: READ,
    input: { include_removed: z.boolean().optional().describe('Include removed workspaces.') },
    handler: async (args, ctx) => (await ctx.tenant.GET('/workspaces', { params: { query: args } })).data,
  }),
  tool({
    name: 'get_workspace',
    title: 'Get a workspace',
    description: 'One workspace: status, template, runtime, model, budget and liveness.',
    toolset: 'workspaces',
    minRole: 'reader',
    scope: 'workspace',
    workspaceToken: true,
    annotations: READ,
    input: { workspace_id: workspaceId },
    handler: async (args, ctx) => (await ctx.tenant.GET('/workspaces/{id}', { params: { path: { id: args.workspace_id } } })).data,
  }),
  tool({
    name: 'provision_workspace',
    title: 'Provision a workspace',
    description:
      'Create a workspace and start its runtime from a template. Returns the workspace and its first token (shown once). Org-wide: a workspace-bound key cannot create workspaces.',
    toolset: 'workspaces',
    minRole: 'editor',
    scope: 'org',
    workspaceToken: false,
    annotations: WRITE,
    input: {
      name: z.string().min(1).max(200).describe('The workspace name.'),
      template: z.string().optional().describe('The template to run (see list_templates).'),
      role: z.string().optional().describe('What the agent is for, one line.'),
      model: z.string().optional().describe('The model the agent uses.'),
      parent_id: z.uuid().optional().describe('The parent workspace, for a sub-workspace.'),
      tier: z.number().int().optional().describe('The workspace tier.'),
      external: z.boolean().optional().describe('An agent that runs elsewhere and registers itself (no runtime is started here).'),
      url: z.string().optional().describe('An external agent\'s URL.'),
    },
    handler: async (args, ctx) => (await ctx.tenant.POST('/workspaces', { body: args as never })).data,
  }),
  tool({
    name: 'deprovision_workspace',
    title: 'Deprovision a workspace',
    description:
      'Stop and remove a workspace and revoke its tokens. `confirm_name` must be the workspace name. With an approval-required key this files an approval and returns its id; a human decides.',
    toolset: 'workspaces',
    minRole: 'editor',
    scope: 'workspace',
    workspaceToken: false,
    annotations: DESTROY,
    input: { workspace_id: workspaceId, cascade: z.boolean().optional().describe('Also remove its live descendants (otherwise a workspace with children is refused).') },
    confirmWhat: 'the workspace name',
    confirmName: (args, ctx) => workspaceName(ctx, args.workspace_id),
    handler: async (args, ctx) => {
      const name = await workspaceName(ctx, args.workspace_id);
      const res = await ctx.tenant.DELETE('/workspaces/{id}', {
        params: { path: { id: args.workspace_id }, query: { confirm: args.cascade ?? false }, header: { 'x-confirm-name': name } },
      });
      return res.data ?? { status: 'removed', workspace_id: args.workspace_id };
    },
  }),
  ...(['restart', 'pause', 'resume'] as const).map((verb) =>
    tool({
      name: `${verb}_workspace`,
      title: `${verb[0]!.toUpperCase()}${verb.slice(1)} a workspace`,
      description: `${verb === 'restart' ? 'Restart the workspace runtime' : verb === 'pause' ? 'Stop the runtime and keep the workspace (resume_workspace starts it again)' : 'Start a paused workspace again'}.`,
      toolset: 'workspaces',
      minRole: 'editor',
      scope: 'workspace',
      workspaceToken: true,
      annotations: verb === 'restart' ? WRITE : WRITE_IDEMPOTENT,
      input: { workspace_id: workspaceId, cascade },
      handler: async (args, ctx) =>
        (await ctx.tenant.POST(`/workspaces/{id}/${verb}`, { params: { path: { id: args.workspace_id }, query: args.cascade === undefined ? {} : { cascade: args.cascade } } })).data,
    }),
  ),
  tool({
    name: 'get_workspace_logs',
    title: 'Read workspace logs',
    description: 'The last lines of the workspace runtime\'s output (admin keys only).',
    toolset: 'workspaces',
    minRole: 'admin',
    scope: 'workspace',
    workspaceToken: false,
    annotations: READ,
    input: { workspace_id: workspaceId, tail: z.number().int().min(1).max(10000).optional().describe('How many lines (default: the server\'s).') },
    handler: async (args, ctx) =>
      (await ctx.tenant.GET('/workspaces/{id}/logs', { params: { path: { id: args.workspace_id }, query: args.tail === undefined ? {} : { tail: args.tail } } })).data,
  }),
];
