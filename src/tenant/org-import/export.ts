import type { Kysely } from 'kysely';
import { stringify } from 'yaml';
import type { TenantSchema } from '../db/schema.js';
import { liveTree, type WorkspaceRow } from '../workspaces/store.js';
import type { ChannelRow } from '../channels/store.js';
import type { OrgChannel, OrgTemplate, OrgWorkspaceNode } from './schemas.js';

/**
 * GET /org/export: the live tree as an org template that POST /org/import turns back into the same tree. Only what a
 * template describes is written — never a secret (secrets are not read at all), a token, a status or an id.
 * Channels are written without their credentials: every credential field becomes a `${VAR}` placeholder
 * (`${SLACK_WEBHOOK_URL}`, `${SLACK_BOT_TOKEN}`, `${DISCORD_WEBHOOK_URL}`, `${WEBHOOK_URL}`, `${WEBHOOK_SECRET}`) that
 * an import fills from the org-wide secret of that name — or skips the channel and says so (`channels_skipped`).
 */

/** A channel as a template writes it: the masked config's fields as placeholders (only a Slack channel name is kept). */
export function channelForExport(c: Pick<ChannelRow, 'type' | 'config_masked' | 'allowed_users' | 'enabled' | 'events'>): OrgChannel {
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(c.config_masked)) {
    if (c.type === 'slack' && key === 'channel') config[key] = String(value);
    else config[key] = `\${${c.type.toUpperCase()}_${key.toUpperCase()}}`;
  }
  return { type: c.type, config, allowed_users: c.allowed_users, enabled: c.enabled, events: c.events };
}

function nodeOf(row: WorkspaceRow, children: OrgWorkspaceNode[], channels: OrgChannel[], installed: readonly string[]): OrgWorkspaceNode {
  const config = (row.config ?? {}) as Record<string, unknown>;
  const canvas = config['canvas'] as { x: number; y: number } | undefined;
  const str = (k: string) => (typeof config[k] === 'string' ? (config[k] as string) : undefined);
  // The declared plugins, then the installed ones not declared (installed later through the API): an import of the
  // export installs them again.
  const declared = Array.isArray(config['plugins']) ? (config['plugins'] as string[]) : [];
  const plugins = [...new Set([...declared, ...installed])];
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
    ...(plugins.length > 0 ? { plugins } : {}),
    ...(str('initial_prompt') !== undefined ? { initial_prompt: str('initial_prompt')! } : {}),
    ...(str('idle_prompt') !== undefined ? { idle_prompt: str('idle_prompt')! } : {}),
    ...(idle !== undefined ? { idle_interval_seconds: idle } : {}),
    ...(memories && memories.length > 0 ? { initial_memories: memories } : {}),
    ...(canvas && typeof canvas.x === 'number' && typeof canvas.y === 'number' ? { canvas: { x: canvas.x, y: canvas.y } } : {}),
    ...(channels.length > 0 ? { channels } : {}),
    ...(children.length > 0 ? { children } : {}),
  };
  return node;
}

/** The live tree, siblings in creation order (an import keeps the file's order). */
export async function exportOrg(db: Kysely<TenantSchema>, orgName: string): Promise<OrgTemplate> {
  const rows = await liveTree(db);
  const channelsOf = new Map<string, OrgChannel[]>();
  const pluginsOf = new Map<string, string[]>();
  if (rows.length > 0) {
    const channels = await db
      .selectFrom('channels')
      .select(['workspace_id', 'type', 'config_masked', 'allowed_users', 'enabled', 'events'])
      .where(
        'workspace_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .execute();
    for (const c of channels) channelsOf.set(c.workspace_id, [...(channelsOf.get(c.workspace_id) ?? []), channelForExport(c)]);
    const installed = await db
      .selectFrom('workspace_plugins')
      .select(['workspace_id', 'name'])
      .where(
        'workspace_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('name')
      .execute();
    for (const p of installed) pluginsOf.set(p.workspace_id, [...(pluginsOf.get(p.workspace_id) ?? []), p.name]);
  }
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
    built.set(row.id, nodeOf(row, kids.map((k) => built.get(k.id)!), channelsOf.get(row.id) ?? [], pluginsOf.get(row.id) ?? []));
  }
  return { name: orgName, workspaces: (byParent.get('') ?? []).map((r) => built.get(r.id)!) };
}

export function exportYaml(template: OrgTemplate): string {
  return stringify(template, { lineWidth: 0 });
}
