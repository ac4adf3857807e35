import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import { DomainError, ValidationError } from '../../core/errors.js';
import {
  CONFIG_FILE,
  decodeUtf8,
  generatedConfigYaml,
  isTemplateId,
  normalizeTemplateName,
  parseTemplateConfig,
  readTemplateDir,
  TEMPLATE_LIMITS,
  templatePathProblem,
  templatePathSetProblem,
  type TemplateConfig,
} from '../../core/templates/config.js';
import type { TemplateSource, TenantSchema } from '../db/schema.js';
import {
  bumpTemplate,
  currentTemplateFiles,
  deleteTemplateRow,
  getTemplateRow,
  insertTemplate,
  liveWorkspacesUsing,
  type TemplateContent,
} from './store.js';

type Db = Kysely<TenantSchema>;

/** The built-in templates shipped with the package (assets/templates/<id>/config.yaml + files). */
export const BUILTIN_TEMPLATES_DIR = fileURLToPath(new URL('../../../../assets/templates/', import.meta.url));

/** sha256 over the files in path order, each path and length framed: equal digests mean equal content. */
export function templateDigest(files: Record<string, Buffer>): string {
  const hash = createHash('sha256');
  for (const p of Object.keys(files).sort()) {
    hash.update(`${p}\u0000${files[p]!.length}\u0000`);
    hash.update(files[p]!);
  }
  return hash.digest('hex');
}

function contentOf(files: Record<string, Buffer>, config: TemplateConfig): TemplateContent {
  return { files, config, digest: templateDigest(files) };
}

export interface TemplateBody {
  name: string;
  files: Record<string, string>;
}

const tooLarge = (message: string, context: Record<string, unknown>) => new DomainError('PAYLOAD_TOO_LARGE', message, context);

/**
 * Validates an import (or replacement) completely before anything is written (the reference validates while
 * writing and leaves half-written templates, §10.7): the file count, every path, the set of paths, sizes, text
 * content, and config.yaml — parsed when given, generated as the reference does when not.
 */
export function checkTemplateBody(body: TemplateBody, tier = 3): TemplateContent {
  const entries = Object.entries(body.files);
  if (entries.length > TEMPLATE_LIMITS.maxFiles) throw new ValidationError(`too many files (${entries.length}), max ${TEMPLATE_LIMITS.maxFiles}`, { field: 'files' });
  // The reference's message for a bad path is `invalid request body` (clients match on it); `detail` names it.
  const badPath = (p: string, problem: string) => new ValidationError('invalid request body', { field: 'files', path: p, detail: `file path ${JSON.stringify(p)} ${problem}` });
  for (const [p] of entries) {
    const problem = templatePathProblem(p);
    if (problem) throw badPath(p, problem);
  }
  const setProblem = templatePathSetProblem(entries.map(([p]) => p));
  if (setProblem) throw badPath(setProblem.path, setProblem.problem);
  const files: Record<string, Buffer> = {};
  let total = 0;
  for (const [p, text] of entries) {
    // A JSON string is Unicode already; NUL and unpaired surrogates (binary smuggled in) are refused.
    const bytes = Buffer.from(text, 'utf8');
    if (text.includes('\u0000') || decodeUtf8(bytes) !== text) {
      throw new ValidationError(`file ${JSON.stringify(p)} is not text: contents must be UTF-8 text without NUL characters`, { field: 'files', path: p });
    }
    if (bytes.length > TEMPLATE_LIMITS.maxFileBytes) {
      throw tooLarge(`file ${JSON.stringify(p)} is too large (${bytes.length} bytes, max ${TEMPLATE_LIMITS.maxFileBytes})`, { path: p, max_bytes: TEMPLATE_LIMITS.maxFileBytes });
    }
    total += bytes.length;
    files[p] = bytes;
  }
  if (total > TEMPLATE_LIMITS.maxTotalBytes) {
    throw tooLarge(`template is too large (${total} bytes in all, max ${TEMPLATE_LIMITS.maxTotalBytes})`, { max_bytes: TEMPLATE_LIMITS.maxTotalBytes });
  }
  if (!files[CONFIG_FILE]) files[CONFIG_FILE] = Buffer.from(generatedConfigYaml(body.name, Object.keys(files), tier));
  let config: TemplateConfig;
  try {
    config = parseTemplateConfig(files[CONFIG_FILE]!.toString('utf8'));
  } catch (err) {
    throw new ValidationError(`${CONFIG_FILE} ${(err as Error).message}`, { field: 'files', path: CONFIG_FILE });
  }
  return contentOf(files, config);
}

/** POST /templates/import: a new template, or 409 when its id is taken (the primary key decides). */
export async function importTemplate(db: Db, body: TemplateBody, audit: AuditEventInput): Promise<{ id: string; name: string }> {
  const id = normalizeTemplateName(body.name);
  const content = checkTemplateBody(body);
  return db.transaction().execute(async (trx) => {
    if (!(await insertTemplate(trx, id, body.name, 'api', content))) throw new DomainError('CONFLICT', 'template already exists', { id });
    await appendAuditEvents(trx, [audit]);
    return { id, name: body.name };
  });
}

/**
 * PUT /templates/:id: a new version. Running workspaces keep the files they were started with (on disk) until they
 * restart. A built-in or directory template replaced here becomes `api`: boot and refresh no longer overwrite it.
 */
export async function replaceTemplate(db: Db, id: string, body: TemplateBody, audit: AuditEventInput): Promise<{ id: string; name: string; version: number }> {
  const content = checkTemplateBody(body);
  return db.transaction().execute(async (trx) => {
    const version = await bumpTemplate(trx, id, body.name, 'api', content);
    if (version === undefined) throw templateNotFound(id);
    await appendAuditEvents(trx, [audit]);
    return { id, name: body.name, version };
  });
}

export const templateNotFound = (id: string) => new DomainError('NOT_FOUND', 'template not found', { id });

/**
 * DELETE /templates/:id: refused (409, naming them) while a workspace that is not removed uses it — it would not
 * start again — and for a built-in (which the next boot would bring back anyway; replace it with PUT instead).
 */
export async function deleteTemplate(db: Db, id: string, audit: AuditEventInput): Promise<void> {
  await db.transaction().execute(async (trx) => {
    // FOR UPDATE: a workspace created meanwhile takes a share lock on the row (requireTemplate) and waits for us.
    const row = await getTemplateRow(trx, id, 'update');
    if (!row) throw templateNotFound(id);
    if (row.source === 'builtin') throw new DomainError('CONFLICT', 'a built-in template cannot be deleted; replace it with PUT /templates/:id', { id });
    const users = await liveWorkspacesUsing(trx, id);
    if (users.length > 0) {
      throw new DomainError('CONFLICT', `template is in use by ${users.length} workspace${users.length === 1 ? '' : 's'}`, { id, workspaces: users });
    }
    await deleteTemplateRow(trx, id);
    await appendAuditEvents(trx, [audit]);
  });
}

/**
 * Refuses a workspace template that does not exist (POST /workspaces, PATCH …/template): 400 naming it. Returns its
 * parsed config.yaml (POST /workspaces takes runtime and model from it when the request leaves them empty, §3.1).
 */
export async function requireTemplate(db: Db, id: string, lock = false): Promise<TemplateConfig> {
  const row = await getTemplateRow(db, id, lock ? 'share' : null);
  if (!row) throw new ValidationError(`template ${JSON.stringify(id)} not found (GET /templates lists them)`, { field: 'template', template: id });
  return row.config as unknown as TemplateConfig;
}

// ---------------------------------------------------------------------------------------------------------------
// Loading from disk: the built-ins and MOLECULE_TEMPLATES_DIR, at boot and on POST /admin/templates/refresh
// ---------------------------------------------------------------------------------------------------------------

export interface TemplateRefreshReport {
  loaded: string[];
  updated: string[];
  unchanged: string[];
  skipped: Array<{ id: string; source: 'builtin' | 'dir'; error: string }>;
}

interface Candidate {
  id: string;
  source: 'builtin' | 'dir';
  content?: TemplateContent;
  error?: string;
}

function candidatesIn(dir: string, source: 'builtin' | 'dir'): Candidate[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  const out: Candidate[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    if (!isTemplateId(entry.name)) {
      out.push({ id: entry.name.slice(0, 128), source, error: 'not a template id: lower-case letters, digits, _ and - only (at most 128)' });
      continue;
    }
    try {
      const read = readTemplateDir(path.join(dir, entry.name), entry.name);
      out.push({ id: entry.name, source, content: contentOf(read.files, read.config) });
    } catch (err) {
      out.push({ id: entry.name, source, error: (err as Error).message });
    }
  }
  return out;
}

/**
 * Loads the built-ins, then MOLECULE_TEMPLATES_DIR (same id: the directory wins), into the database: new ones are
 * inserted, changed ones get a new version, unchanged ones are left alone, and one imported or replaced through the
 * API is never overwritten from disk. Idempotent and safe on several replicas at once: the inserts race on the
 * primary key (`do nothing`), the updates on the row lock with a digest check. A missing directory loads nothing.
 */
export async function refreshTemplates(db: Db, dirs: { builtin: string; extra: string | undefined }, audit?: AuditEventInput): Promise<TemplateRefreshReport> {
  const byId = new Map<string, Candidate>();
  for (const c of candidatesIn(dirs.builtin, 'builtin')) byId.set(c.id, c);
  if (dirs.extra) for (const c of candidatesIn(path.resolve(dirs.extra), 'dir')) byId.set(c.id, c);
  const report: TemplateRefreshReport = { loaded: [], updated: [], unchanged: [], skipped: [] };
  await db.transaction().execute(async (trx) => {
    for (const c of byId.values()) {
      if (!c.content) {
        report.skipped.push({ id: c.id, source: c.source, error: c.error ?? 'unreadable' });
        continue;
      }
      const name = c.content.config.name ?? c.id;
      if (await insertTemplate(trx, c.id, name, c.source, c.content)) {
        report.loaded.push(c.id);
        continue;
      }
      const row = await getTemplateRow(trx, c.id, 'update');
      if (!row) continue; // deleted meanwhile: the next refresh loads it
      if (row.source === 'api') {
        report.skipped.push({ id: c.id, source: c.source, error: 'a template with this id was imported or replaced through the API; it is not overwritten from disk' });
        continue;
      }
      const version = await bumpTemplate(trx, c.id, name, c.source as TemplateSource, c.content, true);
      (version === undefined ? report.unchanged : report.updated).push(c.id);
    }
    if (audit) await appendAuditEvents(trx, [audit]);
  });
  return report;
}

// ---------------------------------------------------------------------------------------------------------------
// What a workspace runs
// ---------------------------------------------------------------------------------------------------------------

/**
 * The files a workspace's agent starts with — its template's current version, overlaid by `overlay` (the workspace's
 * own files, e.g. from a bundle) — and the agent command: the effective config.yaml's `command`. A workspace whose
 * template is gone starts with the overlay alone (and no command unless the overlay has one).
 */
export async function resolveWorkspaceAgent(
  db: Db,
  ws: { template: string | null },
  overlay: Record<string, Buffer> = {},
): Promise<{ command?: string; files: Record<string, Buffer> }> {
  const files = { ...(await currentTemplateFiles(db, ws.template)), ...overlay };
  const config = files[CONFIG_FILE];
  if (!config) return { files };
  const text = decodeUtf8(config);
  if (text === null) throw new Error(`${CONFIG_FILE} is not UTF-8 text`);
  const command = parseTemplateConfig(text).command;
  return command ? { command, files } : { files };
}
