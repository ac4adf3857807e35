/**
 * A workspace's files ↔ the parts of a bundle. One layout both ways:
 * - `system-prompt.md` ↔ `system_prompt`;
 * - `skills/<id>/<path>` ↔ `skills[{id, files: {<path>: …}}]`;
 * - every other file ↔ `prompts[<path>]` (`config.yaml` among them).
 */
import { isUtf8 } from 'node:buffer';
import { parse as parseYaml } from 'yaml';
import type { BundleExport } from './schemas.js';

export const SYSTEM_PROMPT_FILE = 'system-prompt.md';
const SKILL_FILE_RE = /^skills\/([^/]+)\/(.+)$/;

/** The name and description a skill's SKILL.md declares in its YAML frontmatter, if any. */
export function skillFrontmatter(text: string | undefined): { name?: string; description?: string } {
  if (!text) return {};
  const match = /^---\r?\n([\s\S]*?)\r?\n---(?:\r?\n|$)/.exec(text);
  if (!match) return {};
  try {
    const doc: unknown = parseYaml(match[1]!, { logLevel: 'error' });
    if (doc === null || typeof doc !== 'object') return {};
    const { name, description } = doc as Record<string, unknown>;
    return { ...(typeof name === 'string' ? { name } : {}), ...(typeof description === 'string' ? { description } : {}) };
  } catch {
    return {}; // a SKILL.md with broken frontmatter still exports, without a description from it
  }
}

/** Text a bundle can carry: valid UTF-8 without NUL (what an import accepts). */
function asText(content: Buffer): string | null {
  if (!isUtf8(content) || content.includes(0)) return null;
  return content.toString('utf8');
}

export interface StoredSkill {
  id: string;
  name: string;
  description: string;
}

/**
 * Splits effective files into the bundle's parts. A file that is not text is left out (a bundle carries text only).
 * Skills come in the order the import recorded (`stored`), with its names and descriptions; other skill folders
 * follow by id, named by their SKILL.md frontmatter.
 */
export function bundlePartsOf(
  files: Record<string, Buffer>,
  stored: readonly StoredSkill[],
): Pick<BundleExport, 'system_prompt' | 'skills' | 'prompts'> {
  let systemPrompt = '';
  const prompts: Record<string, string> = {};
  const skillFiles = new Map<string, Record<string, string>>();
  for (const [path, content] of Object.entries(files)) {
    const text = asText(content);
    if (text === null) continue;
    const skill = SKILL_FILE_RE.exec(path);
    if (path === SYSTEM_PROMPT_FILE) systemPrompt = text;
    else if (skill) {
      const own = skillFiles.get(skill[1]!) ?? {};
      own[skill[2]!] = text;
      skillFiles.set(skill[1]!, own);
    } else prompts[path] = text;
  }
  const skills: BundleExport['skills'] = [];
  const seen = new Set<string>();
  for (const s of stored) {
    if (seen.has(s.id)) continue;
    seen.add(s.id);
    skills.push({ id: s.id, name: s.name, description: s.description, files: skillFiles.get(s.id) ?? {} });
  }
  for (const id of [...skillFiles.keys()].filter((k) => !seen.has(k)).sort()) {
    const own = skillFiles.get(id)!;
    const front = skillFrontmatter(own['SKILL.md']);
    skills.push({ id, name: front.name ?? id, description: front.description ?? '', files: own });
  }
  return { system_prompt: systemPrompt, skills, prompts };
}

/** True when a prompt path would land where system_prompt or a skill is written (refused on import). */
export function promptPathReserved(path: string): boolean {
  return path === SYSTEM_PROMPT_FILE || SKILL_FILE_RE.test(path);
}
