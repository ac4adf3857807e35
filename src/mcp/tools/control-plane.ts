/**
 * Control-plane toolsets `orgs`, `members`, `billing` (stdio only, when a session or a partner key is given): the
 * org-lifecycle, member and billing tools the reference management MCP lacks (spec/reference-control-plane.md §20).
 * The CP authorizes each call itself (membership per org, partner-key scopes); a refusal comes back as isError.
 */
import * as z from 'zod/v4';
import type { ToolContext } from '../tool.js';
import { DESTROY, READ, ToolRefusal, tool, WRITE, WRITE_IDEMPOTENT } from '../tool.js';

const slug = z.string().min(1).max(63).describe('The org slug.');
const memberRole = z.enum(['owner', 'admin', 'member']);

async function memberLabel(ctx: ToolContext, org: string, userId: string): Promise<string> {
  const { data } = await ctx.cp.GET('/api/v1/orgs/{slug}/members', { params: { path: { slug: org } } });
  const hit = data!.members.find((m) => m.user_id === userId);
  if (!hit) throw new ToolRefusal(`member ${userId} not found`);
  return hit.email ?? hit.user_id;
}

async function invitationLabel(ctx: ToolContext, org: string, id: string): Promise<string> {
  const { data } = await ctx.cp.GET('/api/v1/orgs/{slug}/members/invitations', { params: { path: { slug: org } } });
  const hit = data!.invitations.find((i) => i.id === id);
  if (!hit) throw new ToolRefusal(`invitation ${id} not found`);
  return hit.email ?? hit.prefix;
}

const cp = { scope: 'cp' as const, workspaceToken: false };

export const orgTools = [
  tool({
    name: 'list_orgs',
    title: 'List orgs',
    description: 'The orgs this session is a member of (or this partner key\'s partner owns): slug, plan, status.',
    toolset: 'orgs',
    minRole: 'reader',
    ...cp,
    annotations: READ,
    input: {},
    handler: async (_args, ctx) => (await ctx.cp.GET('/api/v1/orgs')).data,
  }),
  tool({
    name: 'get_org',
    title: 'Get an org',
    description: 'One org: plan, status, credits.',
    toolset: 'orgs',
    minRole: 'reader',
    ...cp,
    annotations: READ,
    input: { slug },
    handler: async (args, ctx) => (await ctx.cp.GET('/api/v1/orgs/{slug}', { params: { path: { slug: args.slug } } })).data,
  }),
  tool({
    name: 'create_org',
    title: 'Create an org',
    description: 'Create an org and start provisioning its tenant (org_provision_status follows it).',
    toolset: 'orgs',
    minRole: 'editor',
    ...cp,
    annotations: WRITE,
    input: { slug, name: z.string().min(1).max(200), plan: z.enum(['free', 'starter', 'pro']).optional() },
    handler: async (args, ctx) => (await ctx.cp.POST('/api/v1/orgs', { body: args })).data,
  }),
  tool({
    name: 'org_provision_status',
    title: 'Org provisioning status',
    description: 'Where the org\'s tenant is in provisioning (provisioning, running, failed).',
    toolset: 'orgs',
    minRole: 'reader',
    ...cp,
    annotations: READ,
    input: { slug },
    handler: async (args, ctx) => (await ctx.cp.GET('/api/v1/orgs/{slug}/provision-status', { params: { path: { slug: args.slug } } })).data,
  }),
  tool({
    name: 'delete_org',
    title: 'Delete an org',
    description: 'Stop the org\'s workspaces and tenant and delete the org. `confirm_name` must be the org slug.',
    toolset: 'orgs',
    minRole: 'admin',
    ...cp,
    annotations: DESTROY,
    input: { slug },
    confirmWhat: 'the org slug',
    confirmName: async (args, ctx) => (await ctx.cp.GET('/api/v1/orgs/{slug}', { params: { path: { slug: args.slug } } })).data!.slug,
    handler: async (args, ctx) => {
      await ctx.cp.DELETE('/api/v1/orgs/{slug}', { params: { path: { slug: args.slug } } });
      return { status: 'deleted', slug: args.slug };
    },
  }),
];

export const memberTools = [
  tool({
    name: 'list_members',
    title: 'List org members',
    description: 'The org\'s members and their roles.',
    toolset: 'members',
    minRole: 'reader',
    ...cp,
    annotations: READ,
    input: { slug },
    handler: async (args, ctx) => (await ctx.cp.GET('/api/v1/orgs/{slug}/members', { params: { path: { slug: args.slug } } })).data,
  }),
  tool({
    name: 'invite_member',
    title: 'Invite a member',
    description: 'Invite someone to the org by email; the answer carries the one-time invitation link token.',
    toolset: 'members',
    minRole: 'editor',
    ...cp,
    annotations: { ...WRITE, openWorldHint: true },
    input: { slug, email: z.email().optional(), role: memberRole.optional() },
    handler: async (args, ctx) => {
      const { slug: org, ...body } = args;
      return (await ctx.cp.POST('/api/v1/orgs/{slug}/members/invitations', { params: { path: { slug: org } }, body })).data;
    },
  }),
  tool({
    name: 'list_invitations',
    title: 'List open invitations',
    description: 'The org\'s invitations not yet used, revoked or expired.',
    toolset: 'members',
    minRole: 'reader',
    ...cp,
    annotations: READ,
    input: { slug },
    handler: async (args, ctx) => (await ctx.cp.GET('/api/v1/orgs/{slug}/members/invitations', { params: { path: { slug: args.slug } } })).data,
  }),
  tool({
    name: 'revoke_invitation',
    title: 'Revoke an invitation',
    description: 'Make an invitation unusable. `confirm_name` must be the invited email (or the invitation prefix when it names none).',
    toolset: 'members',
    minRole: 'editor',
    ...cp,
    annotations: DESTROY,
    input: { slug, invitation_id: z.string().min(1) },
    confirmWhat: 'the invited email (or the invitation prefix when it names none)',
    confirmName: (args, ctx) => invitationLabel(ctx, args.slug, args.invitation_id),
    handler: async (args, ctx) => (await ctx.cp.DELETE('/api/v1/orgs/{slug}/members/invitations/{id}', { params: { path: { slug: args.slug, id: args.invitation_id } } })).data,
  }),
  tool({
    name: 'change_member_role',
    title: 'Change a member\'s role',
    description: 'Make a member owner, admin or member.',
    toolset: 'members',
    minRole: 'editor',
    ...cp,
    annotations: WRITE_IDEMPOTENT,
    input: { slug, user_id: z.string().min(1), role: memberRole },
    handler: async (args, ctx) =>
      (await ctx.cp.PATCH('/api/v1/orgs/{slug}/members/{user_id}', { params: { path: { slug: args.slug, user_id: args.user_id } }, body: { role: args.role } })).data,
  }),
  tool({
    name: 'remove_member',
    title: 'Remove a member',
    description: 'Remove someone from the org. `confirm_name` must be the member\'s email (or user id when none is known).',
    toolset: 'members',
    minRole: 'editor',
    ...cp,
    annotations: DESTROY,
    input: { slug, user_id: z.string().min(1) },
    confirmWhat: "the member's email (or user id when none is known)",
    confirmName: (args, ctx) => memberLabel(ctx, args.slug, args.user_id),
    handler: async (args, ctx) => {
      await ctx.cp.DELETE('/api/v1/orgs/{slug}/members/{user_id}', { params: { path: { slug: args.slug, user_id: args.user_id } } });
      return { status: 'removed', user_id: args.user_id };
    },
  }),
];

export const billingTools = [
  tool({
    name: 'list_plans',
    title: 'List billing plans',
    description: 'The plan catalogue, cheapest first (prices in US cents per org per month).',
    toolset: 'billing',
    minRole: 'reader',
    ...cp,
    annotations: READ,
    input: {},
    handler: async (_args, ctx) => (await ctx.cp.GET('/api/v1/billing/plans')).data,
  }),
  tool({
    name: 'list_invoices',
    title: 'List invoices',
    description: 'Invoices of the orgs this credential may see, or of one org.',
    toolset: 'billing',
    minRole: 'reader',
    ...cp,
    annotations: READ,
    input: { org_slug: z.string().optional() },
    handler: async (args, ctx) => (await ctx.cp.GET('/api/v1/billing/invoices', { params: { query: args } })).data,
  }),
  tool({
    name: 'get_org_usage',
    title: 'Org usage',
    description: 'The org\'s credits: balance, granted and used this period, overage.',
    toolset: 'billing',
    minRole: 'reader',
    ...cp,
    annotations: READ,
    input: { slug },
    handler: async (args, ctx) => (await ctx.cp.GET('/api/v1/orgs/{slug}/usage', { params: { path: { slug: args.slug } } })).data,
  }),
];
