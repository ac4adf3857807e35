import type { Kysely } from 'kysely';
import { stringify } from 'yaml';
import type { TenantSchema } from '../db/schema.js';
import { liveTree, type WorkspaceRow } from '../workspaces/store.js';
import type { OrgTemplate, OrgWorkspaceNode } from './schemas.js';

/**
 * GET /org/export: the live tree as an org template that POST /org/import turns back into the same tree. Only what a
 * template describes is written — never a secret (secrets are not read at all), a token, a status or an id.
 */

function nodeOf(row: WorkspaceRow, children: OrgWorkspaceNode[]): OrgWorkspaceNode {
  const config = (row.config ?? {}) as Record<string, unknown>;
  const canvas = config['canvas'] as { x: number; y: number } | undefined;
  const str = (k: string) => (typeof config[k] === 'string' ? (config[k] as string) : undefined);
  const plugins = Array.isArray(config['plugins']) ? (config['plugins'] as string[]) : undefined;
  const idle = typeof config['idle_interval_seconds'] === 'number' ? (config['idle_interval_seconds'] as number) : undefined;
  const memories = Array.isArray(config['initial_memories']) ? (config['initial_memories'] as OrgWorkspaceNode['initial_memories']) : undefined;
  // Key order is the order a person writes a template in; absent values are left out, not written as null.
  const node: OrgWorkspaceNode = {
    name: row.name,
    ...(row.role ? { role: row.role } : {}),
    tier: row.tier,
    ...(row.runtime ? { runtime: row.runtime } : {}),
    ...(row.model ? { model: row.model } : {}),
    ...(row.template ? { template: row.template } : {}),
    ...(row.external ? { external: true } : {}),
    ...(row.external && row.url ? { url: row.url } : {}),
    ...(row.workspace_dir ? { workspace_dir: row.workspace_dir } : {}),
    ...(row.workspace_access !== 'none' ? { workspace_access: row.workspace_access } : {}),
    ...(row.max_concurrent_tasks !== 1 ? { max_concurrent_tasks: row.max_concurrent_tasks } : {}),
    ...(str('system_prompt') !== undefined ? { system_prompt: str('system_prompt')! } : {}),
    ...(plugins && plugins.length > 0 ? { plugins } : {}),
    ...(str('initial_prompt') !== undefined ? { initial_prompt: str('initial_prompt')! } : {}),
    ...(str('idle_prompt') !== undefined ? { idle_prompt: str('idle_prompt')! } : {}),
    ...(idle !== undefined ? { idle_interval_seconds: idle } : {}),
    ...(memories && memories.length > 0 ? { initial_memories: memories } : {}),
    ...(canvas && typeof canvas.x === 'number' && typeof canvas.y === 'number' ? { canvas: { x: canvas.x, y: canvas.y } } : {}),
    ...(children.length > 0 ? { children } : {}),
  };
  return node;
}

/** The live tree, siblings in creation order (an import keeps the file's order). */
export async function exportOrg(db: Kysely<TenantSchema>, orgName: string): Promise<OrgTemplate> {
  const rows = await liveTree(db);
  const byParent = new Map<string, WorkspaceRow[]>();
  for (const r of rows) {
    const list = byParent.get(r.parent_id ?? '') ?? [];
    list.push(r);
    byParent.set(r.parent_id ?? '', list);
  }
  // Iterative post-order: a tree as deep as the database holds costs no stack.
  const built = new Map<string, OrgWorkspaceNode>();
  const stack: Array<[WorkspaceRow, boolean]> = (byParent.get('') ?? []).map((r) => [r, false]);
  while (stack.length > 0) {
    const [row, expanded] = stack.pop()!;
    const kids = byParent.get(row.id) ?? [];
    if (!expanded) {
      stack.push([row, true]);
      for (const k of kids) stack.push([k, false]);
      continue;
    }
    built.set(row.id, nodeOf(row, kids.map((k) => built.get(k.id)!)));
  }
  return { name: orgName, workspaces: (byParent.get('') ?? []).map((r) => built.get(r.id)!) };
}

export function exportYaml(template: OrgTemplate): string {
  return stringify(template, { lineWidth: 0 });
}
