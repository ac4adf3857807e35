import type { CliContext } from '../context.js';

type Env = string | { any_of: string[] };
type PluginSkip = { name: string; reason: string; missing_env?: string[] };

export interface PlanBody {
  dry_run: true;
  org: string;
  mode: 'merge' | 'reconcile';
  plan: { action: 'create' | 'skip' | 'remove'; name: string; path: string; id?: string; channels?: string[]; plugins?: string[]; plugins_skipped?: PluginSkip[] }[];
  summary: { create: number; skip: number; remove: number };
  preflight: { ok: boolean; missing_env: Env[]; required_env: Env[]; recommended_env: Env[]; missing_recommended_env: Env[] };
}

export interface ImportBody {
  org: string;
  mode: 'merge' | 'reconcile';
  workspaces: { id: string; name: string; path: string; tier: number; status: string; skipped?: true; auth_token?: string; channels?: string[]; channels_skipped?: { index: number; type: string; missing: string[] }[]; plugins_installed?: string[]; plugins_skipped?: PluginSkip[] }[];
  count: number;
  created_count: number;
  skipped_count: number;
  reconcile_removed_count?: number;
  removed?: { id: string; name: string; path: string }[];
  error?: string;
}

/** `A`, or `one of A, B` for an any_of requirement. */
export function envName(e: Env): string {
  return typeof e === 'string' ? e : `one of ${e.any_of.join(', ')}`;
}

/** One warning per declared plugin that is (or would be) left out of a new workspace, with the server's reason. */
function warnSkippedPlugins(ctx: CliContext, nodes: { path: string; plugins_skipped?: PluginSkip[] }[], verb: string): void {
  for (const n of nodes) {
    for (const p of n.plugins_skipped ?? []) ctx.out.warn(`${n.path}: plugin ${p.name} ${verb} — ${p.reason}${p.missing_env ? ` (${p.missing_env.join(', ')})` : ''}`);
  }
}

/** The dry run's plan for people: one row per node, then the summary and any preflight problem. */
export function printPlan(ctx: CliContext, p: PlanBody): void {
  ctx.out.list(p.plan, [
    { header: 'ACTION', value: (n) => n.action },
    { header: 'PATH', value: (n) => n.path },
    { header: 'WORKSPACE', value: (n) => n.id ?? '(new)' },
    { header: 'CHANNELS', value: (n) => n.channels ?? [] },
    { header: 'PLUGINS', value: (n) => n.plugins ?? [] },
  ], 'the template names no workspaces');
  warnSkippedPlugins(ctx, p.plan, 'would not be installed');
  ctx.out.note(`plan (${p.mode}): ${p.summary.create} to create, ${p.summary.skip} to skip (already there), ${p.summary.remove} to remove`);
  if (p.preflight.missing_recommended_env.length > 0) ctx.out.warn(`recommended but not set as org-wide secrets: ${p.preflight.missing_recommended_env.map(envName).join('; ')}`);
}

/** What the import created, skipped and removed. */
export function printResult(ctx: CliContext, r: ImportBody): void {
  ctx.out.list(r.workspaces, [
    { header: 'RESULT', value: (w) => (w.skipped ? 'skipped' : 'created') },
    { header: 'PATH', value: (w) => w.path },
    { header: 'ID', value: (w) => w.id },
    { header: 'STATUS', value: (w) => w.status },
    { header: 'CHANNELS', value: (w) => w.channels ?? [] },
    { header: 'PLUGINS', value: (w) => w.plugins_installed ?? [] },
  ], 'no workspaces');
  warnSkippedPlugins(ctx, r.workspaces, 'not installed');
  for (const w of r.removed ?? []) ctx.out.note(`removed ${w.path} (${w.id})`);
  for (const w of r.workspaces) for (const c of w.channels_skipped ?? []) ctx.out.warn(`${w.path}: ${c.type} channel not created — no org-wide secret for ${c.missing.join(', ')}`);
  const tokens = r.workspaces.filter((w) => w.auth_token).length;
  if (tokens > 0) ctx.out.note(`${tokens} new workspace token(s) were issued; they are shown once, in --json output only`);
}
