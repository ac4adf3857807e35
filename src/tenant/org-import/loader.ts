import { existsSync, statSync } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { parseDocument, type ScalarTag } from 'yaml';
import { DomainError } from '../../core/errors.js';
import { buildValidators, describeValidationErrors } from '../../core/http/app.js';
import { jsonLimitViolation } from '../../core/http/input.js';
import type { TenantConfig } from '../config.js';
import { ORG_LIMITS, OrgTemplate as OrgTemplateSchema, OrgWorkspace as OrgWorkspaceSchema, type OrgTemplate, type OrgWorkspaceNode } from './schemas.js';

/**
 * Reading org templates: YAML (the `yaml` package, core schema) with a confined `!include`, and every cap of
 * ORG_LIMITS. Nothing here touches the database; everything that can be refused is refused here, before the plan.
 */

/** The examples that ship with the server (`assets/org-templates/<dir>/org.yaml`). */
export const BUILTIN_ORG_TEMPLATES_DIR = fileURLToPath(new URL('../../../../assets/org-templates/', import.meta.url));

export interface TemplateRoot {
  dir: string;
  source: 'builtin' | 'configured';
}

/** ORG_TEMPLATES_DIR first (an operator's template shadows a built-in of the same name), then the built-ins. */
export function orgTemplateRoots(config: Pick<TenantConfig, 'ORG_TEMPLATES_DIR'>): TemplateRoot[] {
  const roots: TemplateRoot[] = [];
  const configured = config.ORG_TEMPLATES_DIR;
  if (configured && existsSync(configured) && statSync(configured).isDirectory()) roots.push({ dir: path.resolve(configured), source: 'configured' });
  roots.push({ dir: path.resolve(BUILTIN_ORG_TEMPLATES_DIR), source: 'builtin' });
  return roots;
}

/** Bytes read so far for one template (files, includes, files_dir contents): one budget, ORG_LIMITS.maxTotalBytes. */
export class ReadBudget {
  used = 0;
  take(bytes: number, what: string) {
    this.used += bytes;
    if (this.used > ORG_LIMITS.maxTotalBytes) {
      throw new DomainError('ORG_TEMPLATE_TOO_LARGE', undefined, { detail: `${what}: the template reads more than ${ORG_LIMITS.maxTotalBytes} bytes in all` });
    }
  }
}

const invalid = (detail: string, extra: Record<string, unknown> = {}) => new DomainError('ORG_TEMPLATE_INVALID', undefined, { detail, ...extra });
const expansionFailed = (detail: string) => new DomainError('ORG_TEMPLATE_EXPANSION_FAILED', undefined, { detail });

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes → text: valid UTF-8 without NUL (a binary file is not a template), or 400. */
export function decodeText(bytes: Uint8Array, what: string): string {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw invalid(`${what} is not valid UTF-8 text`);
  }
  if (text.includes('\u0000')) throw invalid(`${what} contains a NUL byte (binary data is not a template)`);
  return text;
}

/** `!include <relative path>` parses to this marker; expandIncludes replaces it with the file's document. */
class IncludeRef {
  constructor(readonly target: string) {}
}

const includeTag: ScalarTag = {
  tag: '!include',
  identify: (value) => value instanceof IncludeRef,
  resolve: (str) => new IncludeRef(str),
};

/** One YAML document → a plain value (IncludeRef markers left in place). */
function parseYaml(text: string, what: string): unknown {
  let value: unknown;
  try {
    const doc = parseDocument(text, { customTags: [includeTag], schema: 'core', uniqueKeys: true, prettyErrors: false });
    if (doc.errors.length > 0) throw invalid(`${what}: ${doc.errors[0]!.message.split('\n')[0]}`);
    value = doc.toJS({ maxAliasCount: ORG_LIMITS.maxAliasCount });
  } catch (err) {
    if (err instanceof DomainError) throw err;
    // The `yaml` package refuses an alias bomb with "Excessive alias count indicates a resource exhaustion attack".
    throw invalid(`${what}: ${String((err as Error).message).split('\n')[0]!.slice(0, 300)}`);
  }
  // Iterative, before any recursive walk: a value nested absurdly deep is refused here.
  const problem = jsonLimitViolation(value, { maxDepth: 128, maxBytes: ORG_LIMITS.maxTotalBytes * 2 });
  if (problem) throw invalid(`${what} ${problem}`);
  return value;
}

function hasInclude(value: unknown): boolean {
  const stack = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v instanceof IncludeRef) return true;
    if (Array.isArray(v)) stack.push(...v);
    else if (v !== null && typeof v === 'object') stack.push(...Object.values(v));
  }
  return false;
}

/** True when `child` is `root` or inside it (lexically; `/a/foo` is not inside `/a/fo`). */
export function isInside(root: string, child: string): boolean {
  const rel = path.relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** A path inside `root`, checked lexically and again after symlinks are resolved; null when it escapes or is missing. */
export async function resolveInside(root: string, relative: string): Promise<string | null> {
  if (relative === '' || path.isAbsolute(relative) || relative.includes('\u0000')) return null;
  const joined = path.resolve(root, relative);
  if (!isInside(root, joined)) return null;
  try {
    const [realRoot, real] = await Promise.all([realpath(root), realpath(joined)]);
    return isInside(realRoot, real) ? real : null;
  } catch {
    return null;
  }
}

async function readCapped(file: string, what: string, budget: ReadBudget): Promise<string> {
  const info = await stat(file);
  if (!info.isFile()) throw invalid(`${what} is not a file`);
  if (info.size > ORG_LIMITS.maxFileBytes) throw new DomainError('ORG_TEMPLATE_TOO_LARGE', undefined, { detail: `${what} is larger than ${ORG_LIMITS.maxFileBytes} bytes` });
  budget.take(info.size, what);
  return decodeText(await readFile(file), what);
}

interface ExpandContext {
  /** The template's folder: every include stays inside it. */
  root: string;
  budget: ReadBudget;
  /** Real paths of the files being expanded, outermost first (cycle detection). */
  stack: string[];
}

/** Replaces every `!include` (relative to the including file) with that file's document, recursively. */
async function expandIncludes(value: unknown, file: string, ctx: ExpandContext): Promise<unknown> {
  if (value instanceof IncludeRef) {
    const rel = (p: string) => path.relative(ctx.root, p) || '.';
    if (ctx.stack.length > ORG_LIMITS.maxIncludeDepth) throw expansionFailed(`includes nest deeper than ${ORG_LIMITS.maxIncludeDepth} levels (at ${rel(file)})`);
    const target = value.target.trim();
    const joined = path.resolve(path.dirname(file), target);
    if (target === '' || path.isAbsolute(target) || !isInside(ctx.root, joined)) throw expansionFailed(`!include ${JSON.stringify(target)} in ${rel(file)} is outside the template folder`);
    const real = await resolveInside(ctx.root, path.relative(ctx.root, joined));
    if (real === null) {
      if (!existsSync(joined)) throw expansionFailed(`!include ${JSON.stringify(target)} in ${rel(file)}: no such file`);
      throw expansionFailed(`!include ${JSON.stringify(target)} in ${rel(file)} resolves (through a link) outside the template folder`);
    }
    if (ctx.stack.includes(real)) throw expansionFailed(`include cycle: ${[...ctx.stack, real].map(rel).join(' → ')}`);
    const text = await readCapped(real, rel(real), ctx.budget);
    const included = parseYaml(text, rel(real));
    return expandIncludes(included, real, { ...ctx, stack: [...ctx.stack, real] });
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) out.push(await expandIncludes(item, file, ctx));
    return out;
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await expandIncludes(v, file, ctx);
    return out;
  }
  return value;
}

export interface LoadedTemplate {
  template: OrgTemplate;
  /** The template's folder (for `files_dir`); null for an inline template. */
  folder: string | null;
  dir: string | null;
  budget: ReadBudget;
}

/** Reads `<folder>/<file>` with its includes expanded and the result checked. */
async function loadFromFolder(folder: string, file: string, dir: string): Promise<LoadedTemplate> {
  const budget = new ReadBudget();
  const realFolder = await realpath(folder);
  const entry = path.join(realFolder, file);
  const text = await readCapped(entry, file, budget);
  const parsed = parseYaml(text, file);
  const expanded = await expandIncludes(parsed, entry, { root: realFolder, budget, stack: [entry] });
  return { template: checkOrgTemplate(expanded), folder: realFolder, dir, budget };
}

/**
 * POST /org/import `{dir}`: a folder name (or a relative path) under ORG_TEMPLATES_DIR, else under the built-ins.
 * Only `org.yaml` is read, as the reference does.
 */
export async function loadOrgTemplateDir(config: Pick<TenantConfig, 'ORG_TEMPLATES_DIR'>, dir: string): Promise<LoadedTemplate> {
  const roots = orgTemplateRoots(config);
  const clean = dir.trim();
  if (clean === '' || path.isAbsolute(clean) || clean.includes('\u0000') || roots.some((r) => !isInside(r.dir, path.resolve(r.dir, clean)))) {
    throw new DomainError('ORG_DIRECTORY_INVALID');
  }
  for (const root of roots) {
    const folder = await resolveInside(root.dir, clean);
    if (folder === null) continue;
    if (!existsSync(path.join(folder, 'org.yaml'))) continue;
    return loadFromFolder(folder, 'org.yaml', clean);
  }
  throw new DomainError('ORG_TEMPLATE_NOT_FOUND');
}

/** A YAML request body (`Content-Type: application/yaml`): one document, no `!include` (there is no folder). */
export function parseOrgYamlBody(bytes: Buffer): unknown {
  if (bytes.length > ORG_LIMITS.maxFileBytes) throw new DomainError('ORG_TEMPLATE_TOO_LARGE', undefined, { detail: `the YAML body is larger than ${ORG_LIMITS.maxFileBytes} bytes` });
  const value = parseYaml(decodeText(bytes, 'the YAML body'), 'the YAML body');
  if (hasInclude(value)) throw expansionFailed('!include is only allowed in templates read from a folder (`dir`)');
  return value;
}

/** Workspace nodes in a template-shaped value, counted without recursion: 413 past the cap, 400 past the depth. */
export function assertTreeWithinLimits(template: unknown): void {
  const roots = (template as { workspaces?: unknown } | null)?.workspaces;
  if (!Array.isArray(roots)) return;
  const stack: Array<[unknown, number]> = roots.map((n) => [n, 1]);
  let count = 0;
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    count += 1;
    if (count > ORG_LIMITS.maxNodes) {
      throw new DomainError('ORG_TEMPLATE_TOO_LARGE', undefined, { detail: `more than ${ORG_LIMITS.maxNodes} workspaces in one template`, max_workspaces: ORG_LIMITS.maxNodes });
    }
    if (depth > ORG_LIMITS.maxDepth) throw invalid(`workspaces nest deeper than ${ORG_LIMITS.maxDepth} levels`);
    const children = (node as { children?: unknown } | null)?.children;
    if (Array.isArray(children)) for (const c of children) stack.push([c, depth + 1]);
  }
}

let validators: { template: ValidateFunction; node: ValidateFunction } | null = null;
function compiled() {
  if (!validators) {
    // The request validator's own Ajv: the same `text` format and keywords as every route body.
    const ajv = buildValidators().body;
    validators = { template: ajv.compile(OrgTemplateSchema), node: ajv.compile(OrgWorkspaceSchema) };
  }
  return validators;
}

function schemaError(errors: readonly ErrorObject[] | null | undefined, prefix: string): DomainError {
  const { message, fields } = describeValidationErrors(errors ?? [], 'template');
  if (!prefix) return invalid(message, fields[0] ? { field: fields[0] } : {});
  const field = fields[0] ? `${prefix}.${fields[0]}`.replace(/\.\[/g, '[') : prefix;
  return invalid(`${prefix}: ${message}`, { field });
}

/**
 * The whole tree against the OrgTemplate schema: the top with its first level, then every deeper node against
 * OrgWorkspace (iteratively, so a deep tree costs no stack). Errors name the node's path.
 */
export function checkOrgTemplate(value: unknown): OrgTemplate {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('an org template is a mapping with `name` and `workspaces`');
  assertTreeWithinLimits(value);
  const { template, node } = compiled();
  if (!template(value)) throw schemaError(template.errors, '');
  const stack: Array<[OrgWorkspaceNode, string]> = ((value as OrgTemplate).workspaces ?? []).map((n, i) => [n, `workspaces[${i}]`]);
  while (stack.length > 0) {
    const [n, at] = stack.pop()!;
    (n.children ?? []).forEach((c, i) => {
      const where = `${at}.children[${i}]`;
      if (!node(c)) throw schemaError(node.errors, where);
      stack.push([c, where]);
    });
  }
  return value as OrgTemplate;
}

export function inlineTemplate(value: unknown): LoadedTemplate {
  return { template: checkOrgTemplate(value), folder: null, dir: null, budget: new ReadBudget() };
}

/** Files under a node's `files_dir` (inside the template folder, a directory): relative path → bytes, UTF-8 checked. */
export async function collectFilesDir(folder: string, filesDir: string, budget: ReadBudget, where: string): Promise<Record<string, Buffer>> {
  const base = await resolveInside(folder, filesDir);
  if (base === null) throw invalid(`${where}.files_dir ${JSON.stringify(filesDir)} is not inside the template folder`, { field: `${where}.files_dir` });
  if (!(await stat(base)).isDirectory()) throw invalid(`${where}.files_dir ${JSON.stringify(filesDir)} is not a directory`, { field: `${where}.files_dir` });
  const files: Record<string, Buffer> = {};
  const pending = [base];
  let count = 0;
  while (pending.length > 0) {
    const current = pending.pop()!;
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      const rel = path.relative(base, full);
      // A link could point anywhere: followed only when it resolves inside the template folder.
      const real = await resolveInside(folder, path.relative(folder, full));
      if (real === null) throw invalid(`${where}.files_dir: ${rel} points outside the template folder`, { field: `${where}.files_dir` });
      const info = await stat(real);
      if (info.isDirectory()) {
        pending.push(full);
        continue;
      }
      if (!info.isFile()) continue;
      count += 1;
      if (count > ORG_LIMITS.maxFilesPerNode) throw new DomainError('ORG_TEMPLATE_TOO_LARGE', undefined, { detail: `${where}.files_dir holds more than ${ORG_LIMITS.maxFilesPerNode} files` });
      if (info.size > ORG_LIMITS.maxFileBytes) throw new DomainError('ORG_TEMPLATE_TOO_LARGE', undefined, { detail: `${where}.files_dir: ${rel} is larger than ${ORG_LIMITS.maxFileBytes} bytes` });
      budget.take(info.size, `${where}.files_dir`);
      const bytes = await readFile(real);
      decodeText(bytes, `${where}.files_dir: ${rel}`);
      files[rel.split(path.sep).join('/')] = bytes;
    }
  }
  return files;
}

export interface ListedTemplate {
  dir: string;
  source: TemplateRoot['source'];
  template: OrgTemplate;
}

/** Every loadable template of every root (the first root to name a dir wins); unparseable ones are logged and skipped. */
export async function listOrgTemplates(
  config: Pick<TenantConfig, 'ORG_TEMPLATES_DIR'>,
  log: { warn(obj: object, msg: string): void },
): Promise<ListedTemplate[]> {
  const seen = new Set<string>();
  const out: ListedTemplate[] = [];
  for (const root of orgTemplateRoots(config)) {
    let entries: string[];
    try {
      entries = (await readdir(root.dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch (err) {
      log.warn({ err, dir: root.dir }, 'org templates directory unreadable');
      continue;
    }
    for (const name of entries) {
      if (seen.has(name)) continue;
      const folder = path.join(root.dir, name);
      // The listing also accepts org.yml (as the reference does); import reads org.yaml only.
      const file = ['org.yaml', 'org.yml'].find((f) => existsSync(path.join(folder, f)));
      if (!file) continue;
      try {
        const loaded = await loadFromFolder(folder, file, name);
        seen.add(name);
        out.push({ dir: name, source: root.source, template: loaded.template });
      } catch (err) {
        log.warn({ err: { message: (err as Error).message, detail: (err as DomainError).context?.['detail'] }, dir: folder }, 'org template skipped: it does not load');
      }
    }
  }
  return out;
}
