import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';

/**
 * The workspace template format (issue 10 item 1), shared by the tenant (templates in its database) and the control
 * plane (its WORKSPACE_TEMPLATES_DIR fallback): a directory with `config.yaml` — the reference's fields (name,
 * description, tier, runtime, model or runtime_config.model, skills, prompt_files, required_env, …) plus our
 * `command`, the shell command the workspace runtime runs as the agent — and any files beside it.
 *
 * A directory with only the legacy `template.json` (`{"command": "…"}`) is migrated: its config.yaml is generated
 * with the directory's name and that command.
 */

/** Limits of one template: the reference caps file count at 200; sizes are ours (413 beyond them). */
export const TEMPLATE_LIMITS = {
  maxFiles: 200,
  maxFileBytes: 1024 * 1024,
  maxTotalBytes: 10 * 1024 * 1024,
  maxPathLength: 512,
  maxSegmentLength: 255,
  maxDepth: 16,
} as const;

/** YAML aliases a config may use: enough for any real config, too few for a billion-laughs expansion. */
const MAX_ALIASES = 100;

export const CONFIG_FILE = 'config.yaml';
export const LEGACY_FILE = 'template.json';

/** An env requirement as the reference serialises it: a bare name or `{"any_of": [...]}`. */
export type EnvRequirement = string | { any_of: string[] };

export interface TemplateConfig {
  name: string | undefined;
  description: string | undefined;
  tier: number | undefined;
  runtime: string | undefined;
  /** Top-level `model`, else `runtime_config.model` (reference §3.12). */
  model: string | undefined;
  models: unknown[] | undefined;
  skills: string[];
  prompt_files: string[];
  required_env: EnvRequirement[];
  recommended_env: EnvRequirement[];
  provision_timeout_seconds: number | undefined;
  /** What the runtime runs as the agent (ours, beyond the reference). */
  command: string | undefined;
}

export class TemplateConfigError extends Error {}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

/** A one-value field (name, runtime, model…): a string or number, or absent; a list or mapping is an error. */
function scalar(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  const s = str(v);
  if (s === undefined) throw new TemplateConfigError(`${field} must be a single value (a string)`);
  return s;
}

function strings(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new TemplateConfigError(`${field} must be a list`);
  return v.map((item, i) => {
    const s = str(item);
    if (s === undefined) throw new TemplateConfigError(`${field}[${i}] must be a string`);
    return s;
  });
}

function envRequirements(v: unknown, field: string): EnvRequirement[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new TemplateConfigError(`${field} must be a list`);
  return v.map((item, i) => {
    if (typeof item === 'string') return item;
    const anyOf = (item as { any_of?: unknown } | null)?.any_of;
    if (Array.isArray(anyOf) && anyOf.length > 0 && anyOf.every((k) => typeof k === 'string')) return { any_of: anyOf as string[] };
    throw new TemplateConfigError(`${field}[${i}] must be a name or {any_of: [names]} (non-empty)`);
  });
}

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a config.yaml. Throws TemplateConfigError naming the problem (not YAML, not a mapping, a bad field). */
export function parseTemplateConfig(text: string): TemplateConfig {
  if (Buffer.byteLength(text) > TEMPLATE_LIMITS.maxFileBytes) throw new TemplateConfigError(`is larger than ${TEMPLATE_LIMITS.maxFileBytes} bytes`);
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, strict: true });
  if (doc.errors.length > 0) throw new TemplateConfigError(`is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    throw new TemplateConfigError(`is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (value === null || value === undefined) value = {};
  if (!isMapping(value)) throw new TemplateConfigError('must be a YAML mapping (key: value lines)');
  const runtimeConfig = isMapping(value['runtime_config']) ? value['runtime_config'] : {};
  const command = value['command'];
  if (command !== undefined && command !== null && typeof command !== 'string') throw new TemplateConfigError('command must be a string (a shell command)');
  const tier = value['tier'];
  if (tier !== undefined && tier !== null && !(Number.isInteger(tier) && (tier as number) >= 0 && (tier as number) <= 10)) {
    throw new TemplateConfigError('tier must be an integer from 0 to 10');
  }
  const env = isMapping(value['env']) ? value['env'] : {};
  const timeout = runtimeConfig['provision_timeout_seconds'];
  const models = value['models'] ?? runtimeConfig['models'];
  return {
    name: scalar(value['name'], 'name'),
    description: scalar(value['description'], 'description'),
    tier: typeof tier === 'number' ? tier : undefined,
    runtime: scalar(value['runtime'], 'runtime'),
    model: scalar(value['model'], 'model') ?? scalar(runtimeConfig['model'], 'runtime_config.model'),
    models: Array.isArray(models) ? models : undefined,
    skills: strings(value['skills'], 'skills'),
    prompt_files: strings(value['prompt_files'], 'prompt_files'),
    required_env: envRequirements(value['required_env'] ?? env['required'], 'required_env'),
    recommended_env: envRequirements(value['recommended_env'] ?? env['recommended'], 'recommended_env'),
    provision_timeout_seconds: typeof timeout === 'number' && Number.isFinite(timeout) ? timeout : undefined,
    command: typeof command === 'string' && command.trim() !== '' ? command : undefined,
  };
}

/**
 * A template id from a free name, exactly as the reference's normalizeName (§3.12): lower-case; space and `-`
 * become `-`; `[a-z0-9_]` kept; everything else dropped; `..` removed; empty → `unnamed`.
 */
export function normalizeTemplateName(name: string): string {
  let out = '';
  for (const ch of name.toLowerCase()) {
    if (ch === ' ' || ch === '-') out += '-';
    else if (/^[a-z0-9_]$/.test(ch)) out += ch;
  }
  out = out.split('..').join('');
  return out === '' ? 'unnamed' : out;
}

/** A template id as stored (normalised names, and directory names of built-in and MOLECULE_TEMPLATES_DIR templates). */
export const TEMPLATE_ID_PATTERN = '^[a-z0-9_][a-z0-9_-]{0,127}$';
const TEMPLATE_ID_RE = new RegExp(TEMPLATE_ID_PATTERN);
export const isTemplateId = (id: string): boolean => TEMPLATE_ID_RE.test(id);

/**
 * Why a template file path is refused, or null when it is fine. Paths are relative, already normalised (no `.`,
 * `..` or empty segment, no leading or trailing `/`), `/`-separated (no backslash), free of NUL and control
 * characters, and bounded in length and depth: nothing in them can reach outside the directory they are written to.
 */
export function templatePathProblem(p: string): string | null {
  if (p === '') return 'is empty';
  if (p.length > TEMPLATE_LIMITS.maxPathLength) return `is longer than ${TEMPLATE_LIMITS.maxPathLength} characters`;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  if (/[\u0000-\u001f\u007f]/.test(p)) return 'contains a NUL or control character';
  if (p.includes('\\')) return 'contains a backslash (use /)';
  if (p.startsWith('/')) return 'is absolute (must be relative to the template)';
  if (/^[A-Za-z]:/.test(p)) return 'is absolute (a drive letter)';
  const segments = p.split('/');
  if (segments.length > TEMPLATE_LIMITS.maxDepth) return `is nested deeper than ${TEMPLATE_LIMITS.maxDepth} levels`;
  for (const s of segments) {
    if (s === '..') return 'contains ..';
    if (s === '.' || s === '') return 'is not normalised (no ".", empty or trailing segments)';
    if (Buffer.byteLength(s) > TEMPLATE_LIMITS.maxSegmentLength) return `has a segment longer than ${TEMPLATE_LIMITS.maxSegmentLength} bytes`;
  }
  if (path.posix.normalize(p) !== p) return 'is not normalised';
  return null;
}

/** Why a set of template paths cannot be written together (one is another's directory, or two differ only in form). */
export function templatePathSetProblem(paths: readonly string[]): { path: string; problem: string } | null {
  const files = new Set<string>();
  const normalForms = new Map<string, string>();
  for (const p of paths) {
    const nf = p.normalize('NFC');
    const seen = normalForms.get(nf);
    if (seen !== undefined) return { path: p, problem: `is the same path as ${JSON.stringify(seen)} after Unicode normalisation` };
    normalForms.set(nf, p);
    files.add(p);
  }
  for (const p of paths) {
    const segments = p.split('/');
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/');
      if (files.has(dir)) return { path: p, problem: `needs ${JSON.stringify(dir)} to be a directory, but it is also a file` };
    }
  }
  return null;
}

/** A YAML double-quoted scalar (JSON string syntax is valid YAML). */
const quoted = (s: string) => JSON.stringify(s);

/**
 * The config.yaml the reference generates for an import without one (§3.12): the name, `Imported agent`, version
 * 1.0.0, the default tier, the default model, top-level `*.md` files as prompt files (else system-prompt.md), every
 * `skills/<x>/SKILL.md` as a skill, the a2a port and ANTHROPIC_API_KEY as the required env.
 */
export function generatedConfigYaml(name: string, paths: readonly string[], tier = 3): string {
  const prompts = paths.filter((p) => !p.includes('/') && p.endsWith('.md')).sort();
  const skills = [...new Set(paths.map((p) => /^skills\/([^/]+)\/SKILL\.md$/.exec(p)?.[1]).filter((s): s is string => s !== undefined))].sort();
  const t = Number.isInteger(tier) && tier >= 1 && tier <= 4 ? tier : 3;
  const lines = [
    `name: ${quoted(name)}`,
    'description: Imported agent',
    'version: 1.0.0',
    `tier: ${t}`,
    'model: anthropic:claude-haiku-4-5-20251001',
    'prompt_files:',
    ...(prompts.length > 0 ? prompts : ['system-prompt.md']).map((p) => `  - ${quoted(p)}`),
    ...(skills.length > 0 ? ['skills:', ...skills.map((s) => `  - ${quoted(s)}`)] : ['skills: []']),
    'a2a:',
    '  port: 8000',
    'env:',
    '  required:',
    '    - ANTHROPIC_API_KEY',
  ];
  return `${lines.join('\n')}\n`;
}

/** The config.yaml of a legacy `template.json` directory: its name and its command. */
export function migratedConfigYaml(name: string, legacy: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(legacy);
  } catch (err) {
    throw new TemplateConfigError(`${LEGACY_FILE} is not valid JSON: ${(err as Error).message}`);
  }
  const command = (parsed as { command?: unknown } | null)?.command;
  if (command !== undefined && typeof command !== 'string') throw new TemplateConfigError(`${LEGACY_FILE}: command must be a string`);
  const lines = [`name: ${quoted(name)}`, `description: ${quoted(`Migrated from ${LEGACY_FILE}`)}`];
  if (typeof command === 'string' && command.trim() !== '') lines.push(`command: ${quoted(command)}`);
  return `${lines.join('\n')}\n`;
}

export interface TemplateDir {
  id: string;
  files: Record<string, Buffer>;
  config: TemplateConfig;
  /** True when config.yaml was generated from a legacy template.json. */
  migrated: boolean;
}

/**
 * Reads one template directory: every regular file under it (symlinks and special files are skipped, never
 * followed), bounded like an import; a template.json-only directory is migrated. Throws naming the problem.
 */
export function readTemplateDir(dir: string, id: string): TemplateDir {
  const files: Record<string, Buffer> = {};
  let total = 0;
  const walk = (abs: string, rel: string, depth: number) => {
    for (const entry of readdirSync(abs, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      const full = path.join(abs, entry.name);
      if (entry.isDirectory()) {
        if (depth + 1 >= TEMPLATE_LIMITS.maxDepth) throw new TemplateConfigError(`${relPath}: nested deeper than ${TEMPLATE_LIMITS.maxDepth} levels`);
        walk(full, relPath, depth + 1);
        continue;
      }
      if (!entry.isFile()) continue; // a symlink, socket or device: never followed, never copied
      const problem = templatePathProblem(relPath);
      if (problem) throw new TemplateConfigError(`${relPath}: the path ${problem}`);
      if (Object.keys(files).length >= TEMPLATE_LIMITS.maxFiles) throw new TemplateConfigError(`too many files, max ${TEMPLATE_LIMITS.maxFiles}`);
      const size = lstatSync(full).size;
      if (size > TEMPLATE_LIMITS.maxFileBytes) throw new TemplateConfigError(`${relPath}: larger than ${TEMPLATE_LIMITS.maxFileBytes} bytes`);
      total += size;
      if (total > TEMPLATE_LIMITS.maxTotalBytes) throw new TemplateConfigError(`larger than ${TEMPLATE_LIMITS.maxTotalBytes} bytes in all`);
      files[relPath] = readFileSync(full);
    }
  };
  walk(dir, '', 0);
  let migrated = false;
  if (!files[CONFIG_FILE]) {
    const legacy = files[LEGACY_FILE];
    if (!legacy) throw new TemplateConfigError(`has neither ${CONFIG_FILE} nor ${LEGACY_FILE}`);
    files[CONFIG_FILE] = Buffer.from(migratedConfigYaml(id, legacy.toString('utf8')));
    delete files[LEGACY_FILE];
    migrated = true;
  }
  const text = decodeUtf8(files[CONFIG_FILE]!);
  if (text === null) throw new TemplateConfigError(`${CONFIG_FILE} is not UTF-8 text`);
  let config: TemplateConfig;
  try {
    config = parseTemplateConfig(text);
  } catch (err) {
    throw new TemplateConfigError(`${CONFIG_FILE} ${(err as Error).message}`);
  }
  return { id, files, config, migrated };
}

/** The bytes as text when they are valid UTF-8 without NUL, else null (binary). */
export function decodeUtf8(bytes: Buffer): string | null {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return text.includes('\u0000') ? null : text;
  } catch {
    return null;
  }
}

/**
 * The agent command of `<templatesDir>/<template>`: config.yaml's `command`, else legacy template.json's; none when
 * the directory has neither. The control plane's fallback when a tenant sends no `agent_command`.
 */
export function templateCommand(templatesDir: string, template: string | null): string | undefined {
  if (!template) return undefined;
  const dir = path.join(path.resolve(templatesDir), template);
  const config = path.join(dir, CONFIG_FILE);
  if (existsSync(config)) {
    try {
      return parseTemplateConfig(readFileSync(config, 'utf8')).command;
    } catch (err) {
      throw new Error(`${CONFIG_FILE} ${(err as Error).message}`);
    }
  }
  const legacy = path.join(dir, LEGACY_FILE);
  if (!existsSync(legacy)) return undefined;
  const parsed = JSON.parse(readFileSync(legacy, 'utf8')) as { command?: unknown };
  return typeof parsed.command === 'string' && parsed.command.trim() !== '' ? parsed.command : undefined;
}
