/** Toolsets `templates`, `bundles`, `approvals`, `audit`, `plugins`, `channels` and `self`. */
import * as z from 'zod/v4';
import { DESTROY, READ, tool, WRITE, WRITE_IDEMPOTENT, workspaceId } from '../tool.js';

const approvalId = z.string().min(1).describe('The approval id (from a 202 pending_approval answer or list_pending_approvals).');

/** Bodies the OpenAPI document leaves untyped (an org export is YAML or JSON text): parsed when JSON, else the text. */
function textOrJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export const templateTools = [
  tool({
    name: 'list_templates',
    title: 'List workspace templates',
    description: 'The templates a workspace can be provisioned from (built-in, from the templates directory, imported).',
    toolset: 'templates',
    minRole: 'reader',
    scope: 'any',
    workspaceToken: false,
    annotations: READ,
    input: {},
    handler: async (_args, ctx) => (await ctx.tenant.GET('/templates')).data,
  }),
  tool({
    name: 'import_template',
    title: 'Import a workspace template',
    description: 'Add a template from its files (config.yaml and any others, path → content).',
    toolset: 'templates',
    minRole: 'admin',
    scope: 'org',
    workspaceToken: false,
    annotations: WRITE,
    input: { name: z.string().min(1).max(100), files: z.record(z.string(), z.string()).describe('Path → file content; must include config.yaml.') },
    handler: async (args, ctx) => (await ctx.tenant.POST('/templates/import', { body: args })).data,
  }),
  tool({
    name: 'list_org_templates',
    title: 'List org templates',
    description: 'The org templates create_org_from_template can import (a tree of workspaces with their defaults).',
    toolset: 'templates',
    minRole: 'reader',
    scope: 'any',
    workspaceToken: false,
    annotations: READ,
    input: {},
    handler: async (_args, ctx) => (await ctx.tenant.GET('/org/templates')).data,
  }),
  tool({
    name: 'create_org_from_template',
    title: 'Create workspaces from an org template',
    description:
      'Import an org template (by `dir`, from list_org_templates, or an inline `template`): creates its workspaces. `dry_run` reports what would be created and changes nothing.',
    toolset: 'templates',
    minRole: 'admin',
    scope: 'org',
    workspaceToken: false,
    annotations: WRITE,
    input: {
      dir: z.string().optional().describe('The org template\'s directory name (list_org_templates).'),
      template: z.record(z.string(), z.unknown()).optional().describe('An inline org template (name, defaults, workspaces).'),
      mode: z.enum(['merge', 'reconcile']).optional(),
      dry_run: z.boolean().optional().describe('Only report the plan.'),
    },
    handler: async (args, ctx) => {
      const { dry_run, ...body } = args;
      return (await ctx.tenant.POST('/org/import', { params: { query: dry_run === undefined ? {} : { dry_run } }, body: body as never })).data;
    },
  }),
  tool({
    name: 'export_org',
    title: 'Export the org as a template',
    description: 'The org\'s workspace tree as an org template (YAML or JSON) that create_org_from_template can import elsewhere.',
    toolset: 'templates',
    minRole: 'reader',
    scope: 'org',
    workspaceToken: false,
    annotations: READ,
    input: { format: z.enum(['yaml', 'json']).optional() },
    handler: async (args, ctx) => textOrJson((await ctx.tenant.GET('/org/export', { params: { query: args }, parseAs: 'text' })).data as unknown as string),
  }),
];

export const bundleTools = [
  tool({
    name: 'export_bundle',
    title: 'Export a workspace bundle',
    description: 'A workspace (and its sub-workspaces) as a portable bundle: prompts, skills, tools, model. Never its secrets.',
    toolset: 'bundles',
    minRole: 'reader',
    scope: 'workspace',
    workspaceToken: false,
    annotations: READ,
    input: { workspace_id: workspaceId },
    handler: async (args, ctx) => (await ctx.tenant.GET('/bundles/export/{id}', { params: { path: { id: args.workspace_id } } })).data,
  }),
  tool({
    name: 'import_bundle',
    title: 'Import a workspace bundle',
    description: 'Create workspaces from a bundle (as export_bundle returns it).',
    toolset: 'bundles',
    minRole: 'editor',
    scope: 'org',
    workspaceToken: false,
    annotations: WRITE,
    input: { bundle: z.record(z.string(), z.unknown()).describe('The bundle JSON.') },
    handler: async (args, ctx) => (await ctx.tenant.POST('/bundles/import', { body: args.bundle as never })).data,
  }),
];

export const approvalTools = [
  tool({
    name: 'list_pending_approvals',
    title: 'List pending approvals',
    description: 'Requests waiting for a human decision: action, reason, who asked, expiry.',
    toolset: 'approvals',
    minRole: 'reader',
    scope: 'any',
    workspaceToken: false,
    annotations: READ,
    input: { limit: z.number().int().min(1).max(500).optional() },
    handler: async (args, ctx) => (await ctx.tenant.GET('/approvals/pending', { params: { query: args } })).data,
  }),
  tool({
    name: 'get_approval',
    title: 'Get an approval',
    description: 'One approval and its status (pending, approved, denied, consumed, expired).',
    toolset: 'approvals',
    minRole: 'reader',
    scope: 'any',
    workspaceToken: false,
    annotations: READ,
    input: { approval_id: approvalId },
    handler: async (args, ctx) => (await ctx.tenant.GET('/approvals/{approvalId}', { params: { path: { approvalId: args.approval_id } } })).data,
  }),
  tool({
    name: 'decide_approval',
    title: 'Approve or deny a request',
    description:
      'Decide another principal\'s pending request. The requester can never decide its own, and approval-required keys and workspace tokens never decide any: the server refuses them.',
    toolset: 'approvals',
    minRole: 'editor',
    scope: 'any',
    workspaceToken: false,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    input: { approval_id: approvalId, decision: z.enum(['approved', 'denied']) },
    handler: async (args, ctx) =>
      (await ctx.tenant.POST('/approvals/{approvalId}/decide', { params: { path: { approvalId: args.approval_id } }, body: { decision: args.decision } })).data,
  }),
];

export const auditTools = [
  tool({
    name: 'list_audit_events',
    title: 'Query the audit trail',
    description: 'Audit events, newest first, filtered by actor, credential, method, path, status or time.',
    toolset: 'audit',
    minRole: 'admin',
    scope: 'org',
    workspaceToken: false,
    annotations: READ,
    input: {
      actor: z.string().optional().describe('e.g. org-token:mola_k7x9p2q4'),
      credential_id: z.string().optional(),
      method: z.string().optional(),
      path: z.string().optional(),
      status: z.number().int().optional(),
      since: z.string().optional().describe('ISO 8601'),
      until: z.string().optional().describe('ISO 8601'),
      limit: z.number().int().min(1).max(1000).optional(),
    },
    handler: async (args, ctx) => (await ctx.tenant.GET('/audit', { params: { query: args } })).data,
  }),
  tool({
    name: 'verify_audit',
    title: 'Verify the audit chain',
    description: 'Recompute the audit hash chain and say whether it is unbroken (and where it breaks).',
    toolset: 'audit',
    minRole: 'admin',
    scope: 'org',
    workspaceToken: false,
    annotations: READ,
    input: {},
    handler: async (_args, ctx) => (await ctx.tenant.GET('/audit/verify')).data,
  }),
];

export const pluginTools = [
  tool({
    name: 'list_plugins',
    title: 'List available plugins',
    description: 'The plugin catalogue: name, version, description, required environment.',
    toolset: 'plugins',
    minRole: 'reader',
    scope: 'any',
    workspaceToken: false,
    annotations: READ,
    input: {},
    handler: async (_args, ctx) => (await ctx.tenant.GET('/plugins')).data,
  }),
  tool({
    name: 'list_workspace_plugins',
    title: 'List a workspace\'s plugins',
    description: 'The plugins installed in one workspace.',
    toolset: 'plugins',
    minRole: 'reader',
    scope: 'workspace',
    workspaceToken: true,
    annotations: READ,
    input: { workspace_id: workspaceId },
    handler: async (args, ctx) => (await ctx.tenant.GET('/workspaces/{id}/plugins', { params: { path: { id: args.workspace_id } } })).data,
  }),
  tool({
    name: 'install_plugin',
    title: 'Install a plugin',
    description: 'Install a plugin into a workspace (source: a catalogue name).',
    toolset: 'plugins',
    minRole: 'editor',
    scope: 'workspace',
    workspaceToken: true,
    annotations: WRITE_IDEMPOTENT,
    input: { workspace_id: workspaceId, source: z.string().min(1), restart: z.boolean().optional() },
    handler: async (args, ctx) => (await ctx.tenant.POST('/workspaces/{id}/plugins', { params: { path: { id: args.workspace_id } }, body: { source: args.source, ...(args.restart === undefined ? {} : { restart: args.restart }) } })).data,
  }),
  tool({
    name: 'uninstall_plugin',
    title: 'Uninstall a plugin',
    description: 'Remove a plugin from a workspace. `confirm_name` must be the plugin name.',
    toolset: 'plugins',
    minRole: 'editor',
    scope: 'workspace',
    workspaceToken: true,
    annotations: DESTROY,
    input: { workspace_id: workspaceId, name: z.string().min(1) },
    confirmWhat: 'the plugin name',
    confirmName: async (args) => args.name,
    handler: async (args, ctx) => (await ctx.tenant.DELETE('/workspaces/{id}/plugins/{name}', { params: { path: { id: args.workspace_id, name: args.name } } })).data,
  }),
];

export const channelTools = [
  tool({
    name: 'list_channels',
    title: 'List a workspace\'s channels',
    description: 'The Slack, Discord and webhook channels a workspace delivers its events to.',
    toolset: 'channels',
    minRole: 'reader',
    scope: 'workspace',
    workspaceToken: false,
    annotations: READ,
    input: { workspace_id: workspaceId },
    handler: async (args, ctx) => (await ctx.tenant.GET('/workspaces/{id}/channels', { params: { path: { id: args.workspace_id } } })).data,
  }),
  tool({
    name: 'create_channel',
    title: 'Create a channel',
    description: 'Deliver a workspace\'s events to Slack, Discord or a webhook.',
    toolset: 'channels',
    minRole: 'editor',
    scope: 'workspace',
    workspaceToken: false,
    // Delivers to a URL outside the platform.
    annotations: { ...WRITE, openWorldHint: true },
    input: {
      workspace_id: workspaceId,
      type: z.enum(['slack', 'discord', 'webhook']),
      config: z.record(z.string(), z.string()).describe('e.g. {"url": "…"} for a webhook.'),
      events: z.array(z.string()).optional(),
      enabled: z.boolean().optional(),
    },
    handler: async (args, ctx) => {
      const { workspace_id, ...body } = args;
      return (await ctx.tenant.POST('/workspaces/{id}/channels', { params: { path: { id: workspace_id } }, body })).data;
    },
  }),
  tool({
    name: 'delete_channel',
    title: 'Delete a channel',
    description: 'Stop delivering to a channel and remove it. `confirm_name` must be the channel id.',
    toolset: 'channels',
    minRole: 'editor',
    scope: 'workspace',
    workspaceToken: false,
    annotations: DESTROY,
    input: { workspace_id: workspaceId, channel_id: z.string().min(1) },
    confirmWhat: 'the channel id',
    confirmName: async (args) => args.channel_id,
    handler: async (args, ctx) =>
      (await ctx.tenant.DELETE('/workspaces/{id}/channels/{channelId}', { params: { path: { id: args.workspace_id, channelId: args.channel_id } } })).data ?? { status: 'deleted', id: args.channel_id },
  }),
];

export const selfTools = [
  tool({
    name: 'whoami',
    title: 'Describe this credential',
    description: 'The credential these tools act with: class, role, workspace binding, expiry, whether it needs approvals.',
    toolset: 'self',
    minRole: 'reader',
    scope: 'any',
    workspaceToken: true,
    annotations: READ,
    input: {},
    handler: async (_args, ctx) => (await ctx.tenant.GET('/auth/self')).data,
  }),
];
