import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, chmodSync, constants, lchownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { materialiseFiles } from './materialise.js';

/**
 * Where and as whom a workspace's agent command runs (DESIGN.md §2: the agent command is untrusted).
 *
 * - `uid` (the tenant runs as root): every workspace gets its own numeric uid from [uidBase, uidBase + uidCount),
 *   never shared by two workspaces; the command runs under `setpriv` with that uid and gid, no supplementary groups,
 *   no capabilities, no_new_privs and a parent-death signal. Every process of that uid is killed when the runtime
 *   stops or dies, so nothing an agent forks outlives it.
 * - `bwrap` (not root, `bwrap` on PATH): a bubblewrap sandbox with its own pid namespace (everything in it dies with
 *   it), read-only system directories and only the workspace's directory writable; the tenant's data is not mounted.
 * - `none`: the command runs as the tenant's own user. Only for development: it can read everything the tenant can.
 *
 * In every mode the command runs in its own directory (`<homeRoot>/<workspace id>`, 0700) with an environment of only
 * its secrets, its identity and a fixed PATH/HOME, in its own process group.
 */
export type AgentIsolation = 'uid' | 'bwrap' | 'none';

export interface AgentSandboxOptions {
  /** `auto`: `uid` when running as root, else `bwrap` when it is on PATH, else `none` (with a loud warning). */
  mode: 'auto' | AgentIsolation;
  /** Directory holding one directory per workspace. */
  homeRoot: string;
  /**
   * True when homeRoot is the default rather than the operator's choice: in `uid` mode, a default that agents could
   * not walk down to (a project checked out under a private home directory) is replaced by a stable directory under
   * the system's temporary directory, instead of leaving every agent unable to start.
   */
  homeRootIsDefault?: boolean;
  uidBase: number;
  uidCount: number;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Directories an agent must never read (made private at construction): the tenant's data directory. */
  privateDataDir?: string | undefined;
  /**
   * Entries of the data directory that guard their own contents and must stay traverse-only rather than owner-only
   * (the embedded PostgreSQL server's directory, whose cluster belongs to another OS user).
   */
  selfGuardedEntries?: readonly string[];
}

/** What the runtime spawns for the agent: argv[0] with the rest as arguments, in `cwd`, with exactly `env`. */
export interface AgentLaunch {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
}

/** The agent's PATH: fixed, never the tenant's (which may name the operator's private tool directories). */
export const AGENT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Finds an executable on PATH, or null. */
export function findExecutable(name: string, searchPath = process.env['PATH'] ?? ''): string | null {
  for (const dir of searchPath.split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * The nearest existing parent of `dir` that other users cannot traverse, or null when they can walk down to it.
 * `madeTraversable` names directories the sandbox itself opens up (the data directory holding the agents' homes).
 */
function untraversableParent(dir: string, madeTraversable: readonly string[] = []): string | null {
  let current = path.dirname(dir);
  for (;;) {
    if (!madeTraversable.includes(current) && existsSync(current) && (statSync(current).mode & 0o001) === 0) return current;
    const parent = path.dirname(current);
    if (parent === current) return null;
    current = parent;
  }
}

const WORKSPACE_DIR_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class AgentSandbox {
  readonly mode: AgentIsolation;
  readonly homeRoot: string;
  private readonly setpriv: string | null;
  private readonly bwrap: string | null;
  private readonly ownsHomeRoot: boolean;
  /** Workspace id → uid, mirrored by the owner of its directory (the truth across restarts). */
  private readonly uids = new Map<string, number>();

  constructor(private readonly opts: AgentSandboxOptions) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    this.setpriv = findExecutable('setpriv');
    this.bwrap = findExecutable('bwrap');
    let mode: AgentIsolation;
    if (opts.mode === 'auto') mode = isRoot ? 'uid' : this.bwrap ? 'bwrap' : 'none';
    else mode = opts.mode;
    if (mode === 'uid' && !isRoot) throw new Error('AGENT_ISOLATION=uid needs the tenant to run as root (to switch to the agent uids); use bwrap or none');
    if (mode === 'uid' && !this.setpriv) throw new Error('AGENT_ISOLATION=uid needs setpriv (util-linux) on PATH');
    if (mode === 'bwrap' && !this.bwrap) throw new Error('AGENT_ISOLATION=bwrap needs bwrap (bubblewrap) on PATH');
    if (opts.uidBase < 1000 || opts.uidCount < 1) throw new Error('the agent uid range must start at 1000 or above and hold at least one uid');
    this.mode = mode;
    if (mode === 'none') {
      opts.log.warn(
        { agent_isolation: 'none' },
        'AGENT ISOLATION IS OFF: workspace agent commands run as this tenant’s own user and can read its environment, data directory and secrets key. Run the tenant as root (one uid per workspace) or install bubblewrap (bwrap), or set AGENT_ISOLATION explicitly.',
      );
    }
    this.ownsHomeRoot = opts.homeRoot.startsWith('memory://');
    let homeRoot = this.ownsHomeRoot ? mkdtempSync(path.join(tmpdir(), 'molecule-agents-')) : path.resolve(opts.homeRoot);
    // The data directory is made traverse-only below when the homes live inside it, so it does not count here.
    const opened = opts.privateDataDir ? [path.resolve(opts.privateDataDir)] : [];
    if (mode === 'uid' && opts.homeRootIsDefault && !this.ownsHomeRoot && untraversableParent(homeRoot, opened) !== null) {
      // Stable across restarts (each workspace's uid is recorded by the owner of its directory), unique per data dir.
      const fallback = path.join(tmpdir(), `molecule-agents-${createHash('sha256').update(homeRoot).digest('hex').slice(0, 12)}`);
      if (existsSync(fallback) && lstatSync(fallback).uid !== process.getuid?.()) {
        throw new Error(`${fallback} exists but belongs to another user; set AGENT_HOME_DIR to a directory of the tenant's own`);
      }
      opts.log.warn(
        { agent_home_dir: fallback, default: homeRoot, blocked_at: untraversableParent(homeRoot, opened) },
        'agent directories moved out of the data directory: agents could not walk down to it; set AGENT_HOME_DIR to choose',
      );
      homeRoot = fallback;
    }
    this.homeRoot = homeRoot;
    mkdirSync(this.homeRoot, { recursive: true });
    // Traverse-only: an agent reaches its own directory by name but cannot list the others.
    chmodSync(this.homeRoot, mode === 'uid' ? 0o711 : 0o700);
    if (opts.privateDataDir) this.makePrivate(path.resolve(opts.privateDataDir));
    if (mode === 'uid') this.checkReachable();
  }

  /**
   * The tenant's data directory: nobody else may read it. Traverse-only when the agents' homes or a self-guarded
   * entry (the embedded server, run by another OS user) live inside it; everything else owner-only.
   */
  private makePrivate(dataDir: string) {
    if (!existsSync(dataDir)) return;
    const guarded = new Set(this.opts.selfGuardedEntries ?? []);
    const entries = readdirSync(dataDir);
    const homesInside = this.homeRoot.startsWith(dataDir + path.sep) && this.mode === 'uid';
    chmodSync(dataDir, homesInside || entries.some((e) => guarded.has(e)) ? 0o711 : 0o700);
    for (const entry of entries) {
      const full = path.join(dataDir, entry);
      if (full === this.homeRoot || this.homeRoot.startsWith(full + path.sep)) continue;
      const st = lstatSync(full);
      if (st.isSymbolicLink()) continue;
      if (guarded.has(entry)) {
        if (st.isDirectory()) chmodSync(full, 0o711);
        continue;
      }
      // The database files (PGlite), the generated secrets key and anything else of the tenant's: owner only.
      chmodSync(full, st.isDirectory() ? 0o700 : 0o600);
    }
  }

  /** An agent uid must be able to walk down to its directory; say loudly when a parent directory forbids it. */
  private checkReachable() {
    const dir = untraversableParent(this.homeRoot);
    if (dir === null) return;
    this.opts.log.error(
      { agent_home_dir: this.homeRoot, blocked_at: dir },
      `agent commands cannot reach their directories: ${dir} is not traversable by other users; set AGENT_HOME_DIR to a directory whose parents are (e.g. /var/lib/molecule/agents)`,
    );
  }

  homeOf(workspaceId: string): string {
    const id = workspaceId.toLowerCase();
    if (!WORKSPACE_DIR_NAME.test(id)) throw new Error(`not a workspace id: ${workspaceId}`);
    return path.join(this.homeRoot, id);
  }

  /** The workspace's uid (uid mode), allocating one — and creating its directory — the first time. */
  private prepare(workspaceId: string): { home: string; uid: number | null } {
    const home = this.homeOf(workspaceId);
    if (this.mode !== 'uid') {
      mkdirSync(home, { recursive: true, mode: 0o700 });
      chmodSync(home, 0o700);
      return { home, uid: null };
    }
    let uid = this.uids.get(workspaceId);
    if (uid === undefined && existsSync(home)) {
      const owner = statSync(home).uid;
      if (this.inRange(owner) && !this.uidTakenByAnother(owner, home)) uid = owner;
    }
    if (uid === undefined) uid = this.allocate(home);
    // Synchronous from the scan to here: within this process no other workspace can take the same uid meanwhile.
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const st = statSync(home);
    if (st.uid !== uid || st.gid !== uid) chownTree(home, uid);
    chmodSync(home, 0o700);
    this.uids.set(workspaceId, uid);
    return { home, uid };
  }

  private inRange(uid: number): boolean {
    return uid >= this.opts.uidBase && uid < this.opts.uidBase + this.opts.uidCount;
  }

  /** True when another workspace (in memory, or by the owner of its directory) holds `uid`. */
  private uidTakenByAnother(uid: number, home: string): boolean {
    return this.usedUids(home).has(uid);
  }

  private usedUids(exceptHome: string): Set<number> {
    const used = new Set<number>();
    for (const [id, u] of this.uids) if (this.homeOf(id) !== exceptHome) used.add(u);
    for (const entry of readdirSync(this.homeRoot)) {
      const full = path.join(this.homeRoot, entry);
      if (full === exceptHome) continue;
      try {
        used.add(statSync(full).uid);
      } catch {
        // removed meanwhile
      }
    }
    return used;
  }

  private allocate(home: string): number {
    const used = this.usedUids(home);
    for (let uid = this.opts.uidBase; uid < this.opts.uidBase + this.opts.uidCount; uid++) {
      if (!used.has(uid)) return uid;
    }
    throw new Error(`no free agent uid left in ${this.opts.uidBase}-${this.opts.uidBase + this.opts.uidCount - 1} (AGENT_UID_BASE, AGENT_UID_COUNT)`);
  }

  /**
   * Writes the workspace's files (template and own files) into its directory, owned by its uid, never following a
   * link (materialise.ts). The caller has stopped the runtime and swept the agent; in `uid` mode every process of
   * the uid is killed once more first (a tenant restarted since knows the uid only from the directory's owner).
   */
  materialise(workspaceId: string, files: Record<string, Buffer>): void {
    const { home, uid } = this.prepare(workspaceId);
    if (uid !== null && this.inRange(uid) && uid !== 0 && uid !== process.getuid?.()) {
      spawnSync('/bin/sh', ['-c', 'kill -9 -1 2>/dev/null; exit 0'], { uid, gid: uid, cwd: '/', env: { PATH: AGENT_PATH }, stdio: 'ignore' });
    }
    materialiseFiles(home, files, uid);
  }

  /** How the runtime starts `command` for this workspace, with exactly `env` (plus PATH and HOME). */
  launch(workspaceId: string, command: string, env: Record<string, string>): AgentLaunch {
    const { home, uid } = this.prepare(workspaceId);
    const agentEnv = { ...env, PATH: AGENT_PATH, HOME: home };
    const shell = ['/bin/sh', '-c', command];
    if (this.mode === 'uid' && uid !== null) {
      const id = String(uid);
      return {
        argv: [this.setpriv!, '--reuid', id, '--regid', id, '--clear-groups', '--no-new-privs', '--inh-caps', '-all', '--bounding-set', '-all', '--pdeathsig', 'KILL', '--', ...shell],
        env: agentEnv,
        cwd: home,
      };
    }
    if (this.mode === 'bwrap') {
      return { argv: [this.bwrap!, ...bwrapArgs(home), '--', ...shell], env: agentEnv, cwd: home };
    }
    return { argv: shell, env: agentEnv, cwd: home };
  }

  /**
   * Kills every process of the workspace's uid (uid mode): whatever the agent forked, double-forked or moved to
   * another process group. `kill(-1)` issued *as that uid* reaches exactly the processes that uid may signal — its
   * own — in one system call. Never runs as any uid outside the agent range.
   */
  async sweep(workspaceId: string): Promise<void> {
    if (this.mode !== 'uid') return;
    const uid = this.uids.get(workspaceId);
    if (uid === undefined || !this.inRange(uid) || uid === 0 || uid === process.getuid?.()) return;
    await new Promise<void>((resolve) => {
      const child = spawn('/bin/sh', ['-c', 'kill -9 -1 2>/dev/null; exit 0'], { uid, gid: uid, cwd: '/', env: { PATH: AGENT_PATH }, stdio: 'ignore' });
      child.once('exit', () => resolve());
      child.once('error', (err) => {
        this.opts.log.error({ err, workspace_id: workspaceId }, 'could not sweep the agent’s processes');
        resolve();
      });
    });
  }

  /** The workspace is gone: its processes and its directory go too, and its uid is free again. */
  async remove(workspaceId: string): Promise<void> {
    await this.sweep(workspaceId);
    rmSync(this.homeOf(workspaceId), { recursive: true, force: true });
    this.uids.delete(workspaceId);
  }

  /** A temporary root (in-memory databases) goes with the tenant. */
  dispose(): void {
    if (this.ownsHomeRoot) rmSync(this.homeRoot, { recursive: true, force: true });
  }
}

/** Hands a directory tree to `uid`. lchown: a symlink the agent left behind is re-owned, never what it points at. */
function chownTree(dir: string, uid: number) {
  lchownSync(dir, uid, uid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(full, uid);
    else lchownSync(full, uid, uid);
  }
}

/** bubblewrap: system directories read-only, the workspace's directory writable, nothing else of the host's. */
function bwrapArgs(home: string): string[] {
  const args = ['--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--new-session'];
  args.push('--ro-bind', '/usr', '/usr');
  for (const dir of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    if (!existsSync(dir)) continue;
    const st = lstatSync(dir);
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
    else args.push('--ro-bind', dir, dir);
  }
  args.push('--ro-bind', '/etc', '/etc', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--bind', home, home, '--chdir', home);
  return args;
}
