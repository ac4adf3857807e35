/**
 * What a bundle may name. The reference writes `skills/<skill.id>/<relPath>` into the container without checking
 * either part (spec/reference-tenant.md §10 item 8: path traversal into /configs). Here every skill id and every
 * file path is checked before anything is written, and a bad one refuses the whole import.
 */
import { DomainError, ValidationError } from '../../core/errors.js';

/** A skill id is one folder name: letters, digits, `.`, `_`, `-`; it starts with a letter or digit; never `..`. */
export const SKILL_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Limits of one import (README, "Bundles"). Over any of them → 413 naming the limit; nothing is written. */
export const BUNDLE_LIMITS = {
  /** Files a workspace gets from one node: its system prompt, its prompts and every skill file. */
  filesPerNode: 200,
  /** Bytes (UTF-8) of one file. */
  fileBytes: 1024 * 1024,
  /** Bytes of every file of the whole bundle together. */
  bundleBytes: 10 * 1024 * 1024,
  /** Levels of the tree, the root included. */
  depth: 16,
  /** Workspaces one import creates. */
  nodes: 1000,
  /** Characters of a file path. */
  pathLength: 512,
  /** The JSON body, with its escaping. */
  bodyBytes: 16 * 1024 * 1024,
} as const;

/** Why a relative file path is unsafe, or null when it is a plain relative, normalised path. */
export function unsafePathReason(path: string): string | null {
  if (path.length === 0) return 'is empty';
  if (path.length > BUNDLE_LIMITS.pathLength) return `is longer than ${BUNDLE_LIMITS.pathLength} characters`;
  if (path.startsWith('/')) return 'is absolute';
  if (/^[A-Za-z]:/.test(path)) return 'names a drive';
  if (path.includes('\\')) return 'contains a backslash';
  // NUL and every other control character: no file name needs one, and some tools stop reading at them.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'contains a control character';
  for (const segment of path.split('/')) {
    if (segment === '') return 'is not normalised (an empty segment: leading, trailing or doubled "/")';
    if (segment === '.') return 'is not normalised (a "." segment)';
    if (segment === '..') return 'contains ".."';
    if (Buffer.byteLength(segment) > 255) return 'has a segment longer than 255 bytes';
  }
  return null;
}

export function assertSafePath(path: string, field: string): void {
  const reason = unsafePathReason(path);
  if (reason !== null) {
    throw new ValidationError(`unsafe path in bundle: ${JSON.stringify(path)} ${reason}`, {
      field,
      path,
      detail: 'a file path must be relative and normalised: no leading "/", no "." or ".." segment, no backslash, no NUL or control character',
    });
  }
}

export function assertSkillId(id: string, field: string): void {
  if (!SKILL_ID_RE.test(id) || id.includes('..')) {
    throw new ValidationError(`invalid skill id in bundle: ${JSON.stringify(id)}`, {
      field,
      skill_id: id,
      detail: 'a skill id is 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit, without ".."',
    });
  }
}

function tooLarge(message: string, limit: string, value: number, field?: string): DomainError {
  return new DomainError('PAYLOAD_TOO_LARGE', message, { limit, max: BUNDLE_LIMITS[limit as keyof typeof BUNDLE_LIMITS], ...(field ? { field } : {}), value });
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The size limits, checked on the parsed body before its schema is (so a 5,000-deep tree is a 413 after one
 * iterative pass, and never reaches a recursive validator). Anything that is not the expected shape is skipped
 * here: the schema refuses it next.
 */
export function assertWithinLimits(body: unknown): void {
  if (!isObject(body)) return;
  const stack: Array<{ node: Record<string, unknown>; depth: number; where: string }> = [{ node: body, depth: 1, where: '' }];
  let nodes = 0;
  let total = 0;
  while (stack.length > 0) {
    const { node, depth, where } = stack.pop()!;
    const at = (field: string) => (where ? `${where}.${field}` : field);
    nodes++;
    if (nodes > BUNDLE_LIMITS.nodes) throw tooLarge(`bundle too large: more than ${BUNDLE_LIMITS.nodes} workspaces`, 'nodes', nodes);
    if (depth > BUNDLE_LIMITS.depth) {
      throw tooLarge(`bundle too deep: sub_workspaces nest at most ${BUNDLE_LIMITS.depth} levels`, 'depth', depth, where);
    }
    let files = 0;
    const file = (content: unknown, field: string) => {
      files++;
      if (typeof content !== 'string') return;
      const bytes = Buffer.byteLength(content);
      if (bytes > BUNDLE_LIMITS.fileBytes) throw tooLarge(`bundle file too large: ${field} is over ${BUNDLE_LIMITS.fileBytes} bytes`, 'fileBytes', bytes, field);
      total += bytes;
      if (total > BUNDLE_LIMITS.bundleBytes) throw tooLarge(`bundle too large: its files are over ${BUNDLE_LIMITS.bundleBytes} bytes together`, 'bundleBytes', total);
    };
    if (typeof node['system_prompt'] === 'string' && node['system_prompt'] !== '') file(node['system_prompt'], at('system_prompt'));
    if (isObject(node['prompts'])) for (const [k, v] of Object.entries(node['prompts'])) file(v, at(`prompts[${JSON.stringify(k)}]`));
    if (Array.isArray(node['skills'])) {
      node['skills'].forEach((skill: unknown, i) => {
        if (isObject(skill) && isObject(skill['files'])) for (const [k, v] of Object.entries(skill['files'])) file(v, at(`skills[${i}].files[${JSON.stringify(k)}]`));
      });
    }
    if (files > BUNDLE_LIMITS.filesPerNode) {
      throw tooLarge(`bundle has too many files: ${where || 'the root'} has ${files}, at most ${BUNDLE_LIMITS.filesPerNode}`, 'filesPerNode', files, where || undefined);
    }
    if (Array.isArray(node['sub_workspaces'])) {
      // Counted before they are queued: a flat list of millions of `{}` is refused without holding them all.
      const queued = nodes + stack.length + node['sub_workspaces'].length;
      if (queued > BUNDLE_LIMITS.nodes) throw tooLarge(`bundle too large: more than ${BUNDLE_LIMITS.nodes} workspaces`, 'nodes', queued);
      node['sub_workspaces'].forEach((child: unknown, i) => {
        if (isObject(child)) stack.push({ node: child, depth: depth + 1, where: at(`sub_workspaces[${i}]`) });
      });
    }
  }
}
