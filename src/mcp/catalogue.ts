/**
 * The MCP tool catalogue: every tool of both services, grouped in toolsets. Names and argument names are the reference
 * management MCP's where it has the tool (`list_workspaces`, `provision_workspace`, `set_workspace_secret`,
 * `mint_org_token`, `export_bundle`, `create_org_from_template`, `list_pending_approvals`, …), so agent prompts written
 * for it keep working. Which of them a client sees is decided in ./server.ts from the credential.
 */
import { billingTools, memberTools, orgTools } from './tools/control-plane.js';
import { approvalTools, auditTools, bundleTools, channelTools, pluginTools, selfTools, templateTools } from './tools/org.js';
import { keyTools, secretTools } from './tools/secrets-keys.js';
import { workspaceTools } from './tools/workspaces.js';
import type { ToolDef } from './tool.js';

export type { AuthSelf, ToolDef } from './tool.js';

export const CATALOGUE: readonly ToolDef[] = [
  ...selfTools,
  ...workspaceTools,
  ...secretTools,
  ...keyTools,
  ...templateTools,
  ...bundleTools,
  ...approvalTools,
  ...auditTools,
  ...pluginTools,
  ...channelTools,
  ...orgTools,
  ...memberTools,
  ...billingTools,
];

export const TENANT_TOOLSETS = ['self', 'workspaces', 'secrets', 'keys', 'templates', 'bundles', 'approvals', 'audit', 'plugins', 'channels'] as const;
export const CONTROL_PLANE_TOOLSETS = ['orgs', 'members', 'billing'] as const;
export const TOOLSETS: readonly string[] = [...TENANT_TOOLSETS, ...CONTROL_PLANE_TOOLSETS];

/**
 * What a client gets without --toolsets: the everyday operations, a few dozen tools at most, so an agent's context
 * stays small (GitHub's MCP server does the same). `all` turns every toolset on; `self` (whoami) is always on.
 */
export const DEFAULT_TOOLSETS: readonly string[] = ['self', 'workspaces', 'secrets', 'approvals', 'orgs'];

/** Resolves a --toolsets list (`all`, names, or nothing for the default) to the toolsets to serve; unknown names throw. */
export function resolveToolsets(requested: readonly string[] | undefined): Set<string> {
  const names = (requested ?? []).map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0);
  if (names.length === 0) return new Set(DEFAULT_TOOLSETS);
  if (names.includes('all')) return new Set(TOOLSETS);
  const unknown = names.filter((n) => !TOOLSETS.includes(n));
  if (unknown.length > 0) throw new Error(`unknown toolset ${unknown.join(', ')}: choose from all, ${TOOLSETS.join(', ')}`);
  return new Set(['self', ...names]);
}
