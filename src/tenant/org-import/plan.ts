import type { Kysely } from 'kysely';
import { DomainError } from '../../core/errors.js';
import { newUuid } from '../../core/ids.js';
import type { TenantSchema } from '../db/schema.js';
import { checkFields, type CreateWorkspaceInput } from '../workspaces/service.js';
import { liveTree, type WorkspaceRow } from '../workspaces/store.js';
import { collectFilesDir, type LoadedTemplate } from './loader.js';
import type { EnvRequirement, OrgChannel, OrgTemplate, OrgWorkspaceNode, PlanEntry, Preflight } from './schemas.js';

/**
 * From a checked template to what an import does: the desired tree with every default applied (`resolveDesired`),
 * the env preflight against the org-wide secrets (`preflight`), and the diff against the live tree (`computePlan`):
 * create, skip (same name under the same parent) or remove (reconcile). Pure reads; the service writes.
 */

/** Runtime of a node that names none, in the template or its defaults (the reference's default, EO). */
export const DEFAULT_RUNTIME = 'claude-code';
/**
 * Model of a node that names none anywhere. The reference (EO) refuses such a node; this server gives it the
 * reference (MC) fallback instead: `sonnet` on claude-code, else `anthropic:claude-opus-4-7` (README, "Org import").
 */
export function defaultModel(runtime: string): string {
  return runtime === 'claude-code' ? 'sonnet' : 'anthropic:claude-opus-4-7';
}
export const DEFAULT_TIER = 3;

export interface DesiredNode {
  name: string;
  /** Names from the root, `/`-separated. */
  path: string;
  /** Where it sits in the template (`workspaces[0].children[1]`), for error messages. */
  where: string;
  input: CreateWorkspaceInput;
  /** Its `channels[]`, created with it (service.ts expands `${VAR}`s). */
  channels: OrgChannel[];
  /** Its declared plugins (`defaults.plugins ∪ plugins`), installed with it when the catalog and allowlist permit (plugins.ts). */
  plugins: string[];
  /** The contents of its `files_dir` (relative path → bytes), when it names one. */
  files: Record<string, Buffer> | null;
  children: DesiredNode[];
  /** Every child name the file lists, `spawning: false` ones included: reconcile keeps what is listed. */
  listed: Set<string>;
}

export interface Desired {
  org: string;
  dir: string | null;
  roots: DesiredNode[];
  rootNames: Set<string>;
}

const uniq = <T>(xs: T[]) => [...new Set(xs)];

/** The template with defaults applied, fields checked like POST /workspaces, `files_dir`s read; spawning:false dropped. */
export async function resolveDesired(loaded: LoadedTemplate): Promise<Desired> {
  const { template } = loaded;
  const defaults = template.defaults ?? {};
  const build = async (node: OrgWorkspaceNode, parentPath: string | null, where: string): Promise<DesiredNode> => {
    const runtime = node.runtime ?? defaults.runtime ?? DEFAULT_RUNTIME;
    const plugins = uniq([...(defaults.plugins ?? []), ...(node.plugins ?? [])]);
    const extra = {
      ...(node.system_prompt !== undefined ? { system_prompt: node.system_prompt } : {}),
      ...(plugins.length > 0 ? { plugins } : {}),
      ...((node.initial_prompt ?? defaults.initial_prompt) !== undefined ? { initial_prompt: node.initial_prompt ?? defaults.initial_prompt } : {}),
      ...((node.idle_prompt ?? defaults.idle_prompt) !== undefined ? { idle_prompt: node.idle_prompt ?? defaults.idle_prompt } : {}),
      ...((node.idle_interval_seconds ?? defaults.idle_interval_seconds) !== undefined ? { idle_interval_seconds: node.idle_interval_seconds ?? defaults.idle_interval_seconds } : {}),
    };
    const input: CreateWorkspaceInput = {
      name: node.name,
      role: node.role ?? null,
      tier: node.tier ?? defaults.tier ?? DEFAULT_TIER,
      runtime,
      model: node.model ?? defaults.model ?? defaultModel(runtime),
      // Checked to exist by the service (checkTemplates), against the database, before anything is written.
      template: node.template ?? null,
      external: node.external ?? false,
      url: node.url ?? null,
      workspace_dir: node.workspace_dir ?? null,
      workspace_access: node.workspace_access,
      max_concurrent_tasks: node.max_concurrent_tasks,
      canvas: node.canvas,
      initial_memories: node.initial_memories ?? defaults.initial_memories,
      extraConfig: extra,
    };
    try {
      checkFields(input);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const field = typeof err.context['field'] === 'string' ? `${where}.${err.context['field']}` : where;
      throw new DomainError(err.code, err.message, { ...err.context, field, workspace: node.name });
    }
    let files: Record<string, Buffer> | null = null;
    if (node.files_dir !== undefined) {
      if (loaded.folder === null) {
        throw new DomainError('ORG_TEMPLATE_INVALID', undefined, { detail: `${where}.files_dir needs a template read from a folder (dir)`, field: `${where}.files_dir` });
      }
      files = await collectFilesDir(loaded.folder, node.files_dir, loaded.budget, where);
    }
    const path = parentPath === null ? node.name : `${parentPath}/${node.name}`;
    const { nodes, listed } = await level(node.children ?? [], path, where);
    return { name: node.name, path, where, input, channels: node.channels ?? [], plugins, files, children: nodes, listed };
  };
  const level = async (nodes: OrgWorkspaceNode[], parentPath: string | null, where: string | null) => {
    const listed = new Set<string>();
    const out: DesiredNode[] = [];
    for (const [i, node] of nodes.entries()) {
      const at = where === null ? `workspaces[${i}]` : `${where}.children[${i}]`;
      // One live name per parent (the database's unique index): a file cannot ask for two.
      if (listed.has(node.name)) {
        throw new DomainError('ORG_TEMPLATE_INVALID', undefined, {
          detail: `${at}: two workspaces named ${JSON.stringify(node.name)} under ${parentPath === null ? 'the root' : JSON.stringify(parentPath)}`,
          field: `${at}.name`,
        });
      }
      listed.add(node.name);
      if (node.spawning === false) continue;
      out.push(await build(node, parentPath, at));
    }
    return { nodes: out, listed };
  };
  const { nodes, listed } = await level(template.workspaces ?? [], null, null);
  return { org: template.name, dir: loaded.dir, roots: nodes, rootNames: listed };
}

// ---------------------------------------------------------------------------------------------------------------
// Required env
// ---------------------------------------------------------------------------------------------------------------

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

function envKey(r: EnvRequirement): string {
  return typeof r === 'string' ? r : `any_of:${r.any_of.join(',')}`;
}

/**
 * The reference's normalisation: invalid names dropped, duplicates collapsed, sorted (plain names first); an
 * `any_of` that names a strictly required variable is pruned (the strict one already demands it).
 */
export function normalizeEnv(list: readonly EnvRequirement[], strictAlso: ReadonlySet<string> = new Set()): EnvRequirement[] {
  const strict = new Set<string>();
  const anyOf = new Map<string, EnvRequirement>();
  for (const r of list) if (typeof r === 'string' && ENV_NAME.test(r)) strict.add(r);
  for (const r of list) {
    if (typeof r === 'string') continue;
    const names = uniq(r.any_of.filter((n) => ENV_NAME.test(n))).sort();
    if (names.length === 0 || names.some((n) => strict.has(n) || strictAlso.has(n))) continue;
    const req = { any_of: names };
    anyOf.set(envKey(req), req);
  }
  const strictList = [...strict].filter((n) => !strictAlso.has(n)).sort();
  return [...strictList, ...[...anyOf.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, r]) => r)];
}

/** The template-level and workspace-level requirements together (workspaces that will spawn, or all of them). */
export function envOf(template: OrgTemplate, spawningOnly: boolean): { required: EnvRequirement[]; recommended: EnvRequirement[] } {
  const required: EnvRequirement[] = [...(template.required_env ?? [])];
  const recommended: EnvRequirement[] = [...(template.recommended_env ?? [])];
  const stack = [...(template.workspaces ?? [])];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (spawningOnly && n.spawning === false) continue;
    required.push(...(n.required_env ?? []));
    recommended.push(...(n.recommended_env ?? []));
    stack.push(...(n.children ?? []));
  }
  const req = normalizeEnv(required);
  const strict = new Set(req.filter((r): r is string => typeof r === 'string'));
  return { required: req, recommended: normalizeEnv(recommended, strict) };
}

/**
 * Every requirement against the org-wide secret keys (`/settings/secrets`). Unlike the reference (its §10 item 21),
 * a requirement is only ever checked against what can satisfy it, and only for workspaces the import creates.
 */
export function preflight(template: OrgTemplate, globalKeys: ReadonlySet<string>): Preflight {
  const { required, recommended } = envOf(template, true);
  const met = (r: EnvRequirement) => (typeof r === 'string' ? globalKeys.has(r) : r.any_of.some((k) => globalKeys.has(k)));
  const missing = required.filter((r) => !met(r));
  return {
    ok: missing.length === 0,
    missing_env: missing,
    required_env: required,
    recommended_env: recommended,
    missing_recommended_env: recommended.filter((r) => !met(r)),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The diff
// ---------------------------------------------------------------------------------------------------------------

export interface PlannedCreate {
  node: DesiredNode;
  id: string;
  parentId: string | null;
}

export interface Plan {
  /** Creates, skips and removals in tree order (parents before children), then removals. */
  entries: PlanEntry[];
  /** Parents before children: the order rows are inserted in. */
  creates: PlannedCreate[];
  skips: Array<{ node: DesiredNode; row: WorkspaceRow }>;
  /** Every workspace a reconcile removes (whole subtrees), with its path. */
  removals: Array<{ row: WorkspaceRow; path: string }>;
}

const ROOT = '';

/**
 * The desired tree against the live one. A node matches a live workspace of the same name under the same parent
 * (skip, and its children are matched in turn); anything else is created. In reconcile mode, under every parent the
 * file names that exists (the root level included), a live workspace whose name the file no longer lists is removed
 * with its subtree — per parent, where the reference matched names tenant-wide (its §10 item 9).
 */
export async function computePlan(db: Kysely<TenantSchema>, desired: Desired, reconcile: boolean): Promise<Plan> {
  const rows = await liveTree(db);
  const byParent = new Map<string, WorkspaceRow[]>();
  for (const r of rows) {
    const key = r.parent_id ?? ROOT;
    const list = byParent.get(key) ?? [];
    list.push(r);
    byParent.set(key, list);
  }
  const plan: Plan = { entries: [], creates: [], skips: [], removals: [] };
  const removeSubtree = (row: WorkspaceRow, path: string) => {
    const stack: Array<[WorkspaceRow, string]> = [[row, path]];
    while (stack.length > 0) {
      const [r, p] = stack.shift()!;
      plan.removals.push({ row: r, path: p });
      for (const c of byParent.get(r.id) ?? []) stack.push([c, `${p}/${c.name}`]);
    }
  };
  const walk = (nodes: DesiredNode[], listed: Set<string>, parent: { id: string | null; exists: boolean; path: string | null }) => {
    const live = parent.exists ? (byParent.get(parent.id ?? ROOT) ?? []) : [];
    const liveByName = new Map(live.map((r) => [r.name, r]));
    for (const node of nodes) {
      const existing = liveByName.get(node.name);
      if (existing) {
        plan.entries.push({ action: 'skip', name: node.name, path: node.path, id: existing.id });
        plan.skips.push({ node, row: existing });
        walk(node.children, node.listed, { id: existing.id, exists: true, path: node.path });
      } else {
        const id = newUuid();
        plan.entries.push({ action: 'create', name: node.name, path: node.path, ...(node.channels.length > 0 ? { channels: node.channels.map((c) => c.type) } : {}) });
        plan.creates.push({ node, id, parentId: parent.id });
        walk(node.children, node.listed, { id, exists: false, path: node.path });
      }
    }
    if (reconcile && parent.exists) {
      for (const r of live) if (!listed.has(r.name)) removeSubtree(r, parent.path === null ? r.name : `${parent.path}/${r.name}`);
    }
  };
  walk(desired.roots, desired.rootNames, { id: null, exists: true, path: null });
  for (const { row, path } of plan.removals) plan.entries.push({ action: 'remove', name: row.name, path, id: row.id });
  return plan;
}
