/**
 * Builds an McpServer holding only the tools the credential may use (DESIGN.md §7: "filtered by what the presented
 * credential may do"). The filter is a convenience for the agent — a smaller, truthful list — never the enforcement:
 * every call still goes through the API, whose auth, scoping, approval gate and audit decide.
 *
 * Every call is wrapped the same way:
 * - a tool naming a workspace outside the credential's binding is refused before any call, as "not found" (the API's
 *   own answer for out-of-scope resources);
 * - a destructive tool needs `confirm_name` equal to the resource's name, fetched from the API;
 * - an approval-required key's gated call answers 202 pending_approval: the tool returns the approval id and says a
 *   human must decide — nothing an agent can put in an argument replaces that decision;
 * - an API error is an `isError` result carrying the server's message, code and request id (the reference returned
 *   success with the error inside).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod/v4';
import { ApiError, NetworkError, type ControlPlaneClient, type TenantClient } from '../sdk/client.js';
import { CATALOGUE, resolveToolsets } from './catalogue.js';
import { ToolRefusal, type AuthSelf, type Role, type ToolContext, type ToolDef } from './tool.js';

export const MCP_SERVER_NAME = 'molecule-platform';

export interface McpServerOptions {
  tenant?: TenantClient;
  controlPlane?: ControlPlaneClient;
  /** The tenant credential, from GET /auth/self. Without it no tenant tool is filtered by credential. */
  self?: AuthSelf;
  /** Only tools with readOnlyHint. */
  readOnly?: boolean;
  /** Toolset names, or `all`; default DEFAULT_TOOLSETS. */
  toolsets?: readonly string[];
  /** Reported to clients as serverInfo.version. */
  version?: string;
}

const RANK: Record<Role, number> = { reader: 0, editor: 1, admin: 2 };

/** Whether a credential described by `self` may use a tenant tool at all (the listing rule). */
export function tenantToolAllowed(t: ToolDef, self: AuthSelf | undefined): boolean {
  if (!self) return true;
  if (RANK[self.role] < RANK[t.minRole]) return false;
  // A reader gets read tools only, whatever a route's declared role would let through.
  if (self.role === 'reader' && !t.annotations.readOnlyHint) return false;
  if (self.class === 'workspace-token' && !t.workspaceToken) return false;
  if (self.workspace_ids !== null && t.scope === 'org') return false;
  // The server refuses these keys as deciders (APPROVAL_DECIDER_FORBIDDEN); listing the tool would only mislead.
  if (t.name === 'decide_approval' && self.approval_required) return false;
  return true;
}

/** The tools a server built with these options serves, in catalogue order. */
export function selectTools(options: McpServerOptions): ToolDef[] {
  const toolsets = resolveToolsets(options.toolsets);
  return CATALOGUE.filter((t) => {
    if (!toolsets.has(t.toolset)) return false;
    if (options.readOnly && !t.annotations.readOnlyHint) return false;
    if (t.scope === 'cp') return options.controlPlane !== undefined;
    if (!options.tenant) return false;
    return tenantToolAllowed(t, options.self);
  });
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null, null, 2);
}

function errorResult(message: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: message }] };
}

/** The server's words, its code and the request id that ties the call to the audit trail and logs. */
export function apiErrorText(err: ApiError): string {
  return `${err.message} (HTTP ${err.status} ${err.code}${err.requestId ? `, request_id ${err.requestId}` : ''})`;
}

function isPendingApproval(value: unknown): value is { status: 'pending_approval'; approval_id: string; action?: string; reason?: string } {
  return typeof value === 'object' && value !== null && (value as { status?: unknown }).status === 'pending_approval' && typeof (value as { approval_id?: unknown }).approval_id === 'string';
}

async function runTool(t: ToolDef, args: Record<string, unknown>, ctx: ToolContext): Promise<CallToolResult> {
  try {
    const binding = ctx.self?.workspace_ids ?? null;
    if (t.scope === 'workspace' && binding !== null) {
      const id = String(args['workspace_id'] ?? '').toLowerCase();
      // Out of scope is not found (STYLE.md): the same words the API uses, and no call is made.
      if (!binding.includes(id)) return errorResult(`workspace not found: ${id} (this credential is confined to ${binding.length === 1 ? 'workspace' : 'workspaces'} ${binding.join(', ')})`);
    }
    if (t.confirmName) {
      const expected = await t.confirmName(args as never, ctx);
      if (args['confirm_name'] !== expected) {
        // The expected name is not echoed: the point is that the caller already knows what it is destroying.
        return errorResult(`${t.name} refused: confirm_name must be exactly the name of the resource to remove (${t.confirmWhat ?? 'its name'}); nothing was done`);
      }
    }
    const result = await t.handler(args as never, ctx);
    if (isPendingApproval(result)) {
      return {
        content: [
          {
            type: 'text',
            text: `Pending approval ${result.approval_id}: this key needs a human to approve "${result.action ?? t.name}" in the console or with the CLI (molecule approvals). Nothing was done yet; once approved, the identical call goes through once. Check with get_approval.`,
          },
          { type: 'text', text: text(result) },
        ],
      };
    }
    return { content: [{ type: 'text', text: text(result) }] };
  } catch (err) {
    if (err instanceof ApiError) return errorResult(apiErrorText(err));
    if (err instanceof ToolRefusal || err instanceof NetworkError) return errorResult(err.message);
    throw err;
  }
}

export function createMcpServer(options: McpServerOptions): McpServer {
  const server = new McpServer({ name: MCP_SERVER_NAME, version: options.version ?? '0.0.0' }, { capabilities: { tools: {} } });
  // A missing client is never reached: selectTools lists tenant tools only with a tenant client, CP tools only with a CP one.
  const ctx = { tenant: options.tenant, cp: options.controlPlane, self: options.self ?? null } as ToolContext;
  for (const t of selectTools(options)) {
    const input: z.ZodRawShape = t.confirmName
      ? { ...t.input, confirm_name: z.string().describe('The name of the resource this removes, typed out as confirmation (see the description).') }
      : t.input;
    server.registerTool(
      t.name,
      { title: t.title, description: t.description, inputSchema: input, annotations: { title: t.title, ...t.annotations } },
      (args: Record<string, unknown>) => runTool(t, args, ctx),
    );
  }
  return server;
}
