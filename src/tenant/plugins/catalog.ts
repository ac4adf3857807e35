import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { decodeUtf8, TEMPLATE_LIMITS, templatePathProblem } from '../../core/templates/config.js';

/**
 * The plugin catalog: the built-ins shipped in assets/plugins/ plus MOLECULE_PLUGINS_DIR, read once at boot into
 * memory. Not stored in the database (unlike templates) because the catalog cannot change while the process runs —
 * there is no import route — and every replica reads the same package and the same directory. What a workspace
 * installed is stored in the database (a snapshot of the entry's files), so replicas never disagree about that.
 */

export const BUILTIN_PLUGINS_DIR = fileURLToPath(new URL('../../../../assets/plugins/', import.meta.url));
export const MANIFEST_FILE = 'plugin.yaml';

/** A plugin name: a base name in lower case — no `/`, `\`, `..`, nothing a path could be made of (reference §3.14). */
export const PLUGIN_NAME_PATTERN = '^[a-z0-9][a-z0-9\\._-]{0,63}$';
const PLUGIN_NAME_RE = new RegExp(PLUGIN_NAME_PATTERN);
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Why `name` is not a plugin name, or null. The reference's `detail` for its `invalid plugin name` 400. */
export function pluginNameProblem(name: string): string | null {
  if (name === '') return 'plugin name is empty';
  if (name.includes('/') || name.includes('\\')) return 'plugin name must not contain a path separator';
  if (name.includes('..')) return 'plugin name must not contain ..';
  if (!PLUGIN_NAME_RE.test(name)) return 'plugin name must be 1-64 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit';
  return null;
}

export interface CatalogPlugin {
  name: string;
  version: string;
  description: string;
  required_env: string[];
  skills: string[];
  origin: 'builtin' | 'dir';
  /** Path (relative to the plugin's directory) → content; installed under plugins/<name>/<path>. */
  files: Record<string, Buffer>;
}

export interface CatalogProblem {
  name: string;
  origin: 'builtin' | 'dir';
  error: string;
}

class ManifestError extends Error {}

function stringList(value: unknown, field: string, check?: (s: string) => boolean): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || (check && !check(v)))) throw new ManifestError(`${field} must be a list of ${check ? 'valid names' : 'strings'}`);
  return value as string[];
}

/** Every regular file under `dir` (symlinks and devices are never followed nor copied), bounded like a template. */
function walkFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string, rel: string, depth: number) => {
    for (const entry of readdirSync(abs, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (depth + 1 >= TEMPLATE_LIMITS.maxDepth) throw new ManifestError(`${relPath}: nested deeper than ${TEMPLATE_LIMITS.maxDepth} levels`);
        walk(path.join(abs, entry.name), relPath, depth + 1);
      } else if (entry.isFile()) {
        out.push(relPath);
      }
    }
  };
  walk(dir, '', 0);
  return out;
}

/** Reads one plugin directory: its manifest, then the files it names (or every file in it). Throws naming the problem. */
export function readPluginDir(dir: string, dirName: string, origin: 'builtin' | 'dir'): CatalogPlugin {
  const manifestPath = path.join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath) || !lstatSync(manifestPath).isFile()) throw new ManifestError(`has no ${MANIFEST_FILE}`);
  const text = decodeUtf8(readFileSync(manifestPath));
  if (text === null) throw new ManifestError(`${MANIFEST_FILE} is not UTF-8 text`);
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 16 });
  } catch (err) {
    throw new ManifestError(`${MANIFEST_FILE} is not valid YAML: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ManifestError(`${MANIFEST_FILE} must be a mapping`);
  const m = raw as Record<string, unknown>;
  const name = typeof m['name'] === 'string' ? m['name'] : dirName;
  const nameProblem = pluginNameProblem(name);
  if (nameProblem) throw new ManifestError(nameProblem);
  if (name !== dirName) throw new ManifestError(`name ${JSON.stringify(name)} differs from its directory ${JSON.stringify(dirName)}`);
  const version = m['version'] === undefined ? '0.0.0' : String(m['version']);
  if (!/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(version)) throw new ManifestError('version must be 1-64 letters, digits, ".", "+", "_" or "-"');
  const description = typeof m['description'] === 'string' ? m['description'].slice(0, 1000) : '';
  const requiredEnv = stringList(m['required_env'], 'required_env', (s) => ENV_NAME_RE.test(s));
  const skills = stringList(m['skills'], 'skills', (s) => pluginNameProblem(s) === null);
  const listed = m['files'] === undefined ? walkFiles(dir) : stringList(m['files'], 'files');
  if (!listed.includes(MANIFEST_FILE)) listed.unshift(MANIFEST_FILE);
  if (listed.length > TEMPLATE_LIMITS.maxFiles) throw new ManifestError(`too many files, max ${TEMPLATE_LIMITS.maxFiles}`);
  const files: Record<string, Buffer> = {};
  let total = 0;
  for (const rel of listed) {
    const problem = templatePathProblem(rel);
    if (problem) throw new ManifestError(`file ${JSON.stringify(rel)}: the path ${problem}`);
    const full = path.join(dir, rel);
    // lstat: a listed symlink is refused, never followed out of the plugin's directory.
    if (!existsSync(full) || !lstatSync(full).isFile()) throw new ManifestError(`file ${JSON.stringify(rel)} is missing or not a regular file`);
    const size = lstatSync(full).size;
    if (size > TEMPLATE_LIMITS.maxFileBytes) throw new ManifestError(`file ${JSON.stringify(rel)} is larger than ${TEMPLATE_LIMITS.maxFileBytes} bytes`);
    total += size;
    if (total > TEMPLATE_LIMITS.maxTotalBytes) throw new ManifestError(`larger than ${TEMPLATE_LIMITS.maxTotalBytes} bytes in all`);
    files[rel] = readFileSync(full);
  }
  return { name, version, description, required_env: requiredEnv, skills, origin, files };
}

/** The catalog: a read-only map by name. The extra directory wins over a built-in of the same name. */
export class PluginCatalog {
  private constructor(
    private readonly byName: ReadonlyMap<string, CatalogPlugin>,
    readonly problems: readonly CatalogProblem[],
  ) {}

  static load(dirs: { builtin: string; extra: string | undefined }): PluginCatalog {
    const byName = new Map<string, CatalogPlugin>();
    const problems: CatalogProblem[] = [];
    const scan = (dir: string, origin: 'builtin' | 'dir') => {
      if (!existsSync(dir) || !statSync(dir).isDirectory()) return;
      for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
        try {
          byName.set(entry.name, readPluginDir(path.join(dir, entry.name), entry.name, origin));
        } catch (err) {
          problems.push({ name: entry.name.slice(0, 128), origin, error: (err as Error).message });
        }
      }
    };
    scan(dirs.builtin, 'builtin');
    if (dirs.extra) scan(path.resolve(dirs.extra), 'dir');
    return new PluginCatalog(byName, problems);
  }

  list(): CatalogPlugin[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): CatalogPlugin | undefined {
    return this.byName.get(name);
  }
}
