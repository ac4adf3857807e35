import { closeSync, constants, fchownSync, lchownSync, lstatSync, mkdirSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { templatePathProblem, templatePathSetProblem } from '../templates/config.js';

/**
 * Writes a workspace's files (its template's, overlaid by its own) into the agent's directory before its runtime
 * starts. The directory belongs to the agent's uid and the tenant may run as root, so nothing here ever follows a
 * symlink the agent may have planted:
 * - every path is validated first (relative, normalised, no `..`): nothing is written when one is bad;
 * - every existing component is lstat'ed: a directory is entered, anything else in the way (a symlink, a file, a
 *   FIFO) is unlinked — the link itself, never its target — and replaced by a directory of our making;
 * - a file is created with O_CREAT|O_EXCL|O_NOFOLLOW after unlinking whatever had its name, so a link swapped in
 *   meanwhile makes the open fail instead of writing through it;
 * - files and directories are handed to the agent's uid (fchown on the open descriptor, lchown on directories).
 *
 * Called only once the runtime is stopped and the agent's processes are swept, so no agent process races it.
 */
/**
 * Top-level directories of a workspace that the platform owns wholly: emptied at every start and rebuilt from the
 * files given, so what left the set (an uninstalled plugin, src/tenant/plugins) leaves the directory too. Whatever
 * the agent wrote there is gone at its next start (README, Plugins).
 */
export const PLATFORM_OWNED_DIRS = ['plugins'];

export function materialiseFiles(root: string, files: Record<string, Buffer>, owner: number | null): void {
  const paths = Object.keys(files);
  for (const p of paths) {
    const problem = templatePathProblem(p);
    if (problem) throw new Error(`file ${JSON.stringify(p.slice(0, 100))}: the path ${problem}`);
  }
  const setProblem = templatePathSetProblem(paths);
  if (setProblem) throw new Error(`file ${JSON.stringify(setProblem.path.slice(0, 100))} ${setProblem.problem}`);
  const rootStat = lstatSync(root);
  if (!rootStat.isDirectory()) throw new Error('the workspace directory is not a directory');
  for (const owned of PLATFORM_OWNED_DIRS) {
    const dir = path.join(root, owned);
    const st = lstatOrNull(dir);
    if (st?.isDirectory()) rmSync(dir, { recursive: true, force: true }); // rm never follows links inside
    else if (st) unlinkSync(dir); // a symlink in its place: the link goes, its target is untouched
  }
  const made = new Set<string>();
  const ensureDir = (dir: string) => {
    if (made.has(dir)) return;
    const st = lstatOrNull(dir);
    if (st && !st.isDirectory()) unlinkSync(dir); // a symlink or file in the way: the link goes, its target is untouched
    if (!st || !st.isDirectory()) mkdirSync(dir, { mode: 0o700 });
    if (owner !== null) lchownSync(dir, owner, owner);
    made.add(dir);
  };
  for (const p of paths.sort()) {
    const segments = p.split('/');
    let current = root;
    for (const segment of segments.slice(0, -1)) {
      current = path.join(current, segment);
      ensureDir(current);
    }
    const target = path.join(root, ...segments);
    const st = lstatOrNull(target);
    if (st?.isDirectory()) rmSync(target, { recursive: true, force: true }); // rm never follows links inside
    else if (st) unlinkSync(target);
    const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      if (owner !== null) fchownSync(fd, owner, owner);
      const bytes = files[p]!;
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    } finally {
      closeSync(fd);
    }
  }
}

function lstatOrNull(p: string) {
  try {
    return lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
