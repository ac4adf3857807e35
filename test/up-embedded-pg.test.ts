/**
 * `npm start` (`molecule-platform up`, the real binary) on the embedded PostgreSQL server: the printed first curl
 * step works as printed, Ctrl-C (SIGINT) leaves no process behind (tenant, postmaster, backends, runtimes), and the
 * next start finds the workspace again on the same data.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startUp } from './support/binary.js';

const run = promisify(execFile);

const up = (dir: string) => startUp(dir);

/** Every live process below `root` (ppid chain), with its start time so a reused pid is not mistaken for it. */
function descendants(root: number): Array<{ pid: number; start: string; cmd: string }> {
  const parent = new Map<number, number>();
  const info = new Map<number, { start: string; cmd: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(entry), Number(fields[1]));
      info.set(Number(entry), { start: fields[19]!, cmd: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch {
      // exited meanwhile
    }
  }
  const found: Array<{ pid: number; start: string; cmd: string }> = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) {
        found.push({ pid, ...info.get(pid)! });
        break;
      }
    }
  }
  return found;
}

function stillRunning(p: { pid: number; start: string }): boolean {
  try {
    const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] === p.start;
  } catch {
    return false;
  }
}

/** The banner's "First steps": the export line and the first curl command (with its continuation line), verbatim. */
function firstCurlStep(banner: string): string {
  const lines = banner.split('\n');
  const exp = lines.findIndex((l) => l.trim().startsWith('export MOLECULE_URL='));
  assert.ok(exp >= 0, `an export line in the banner:\n${banner}`);
  assert.match(lines[exp + 1]!, /curl -s -X POST \$MOLECULE_URL\/workspaces/);
  return [lines[exp]!.trim(), lines[exp + 1]!.trim(), lines[exp + 2]!.trim()].join('\n');
}

describe('npm start on the embedded PostgreSQL server', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'molecule-up-pg-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the printed first step, stops everything on SIGINT, and keeps the workspace across a restart', async () => {
    const first = await up(dir);
    let workspaceId = '';
    try {
      assert.match(first.banner, /embedded PostgreSQL server/);
      assert.ok(existsSync(path.join(dir, 'pg', 'data', 'PG_VERSION')), 'the cluster lives under <data dir>/pg');
      const { stdout } = await run('sh', ['-c', firstCurlStep(first.banner)]);
      const created = JSON.parse(stdout) as { id?: string; name?: string };
      assert.equal(created.name, 'my-agent', stdout);
      assert.ok(created.id, stdout);
      workspaceId = created.id;
    } finally {
      const started = descendants(first.proc.pid!);
      assert.ok(
        started.some((p) => p.cmd.includes('postgres') && p.cmd.includes(path.join(dir, 'pg', 'data'))),
        `the postmaster is among the launcher's processes: ${JSON.stringify(started)}`,
      );
      first.proc.kill('SIGINT');
      assert.equal(await first.exited, 0, first.out());
      // Backends end with their postmaster; wait on that condition with a generous deadline.
      const deadline = Date.now() + 60_000;
      while (started.some(stillRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(started.filter(stillRunning), [], 'no process the launcher started outlives it');
      assert.equal(existsSync(path.join(dir, 'pg', 'data', 'postmaster.pid')), false, 'the server shut down cleanly');
    }

    const second = await up(dir);
    try {
      const exp = /export MOLECULE_URL=(\S+) ORG=(\S+) KEY=(\S+)/.exec(second.banner);
      assert.ok(exp, second.banner);
      const [, url, org, key] = exp;
      const res = await fetch(`${url}/workspaces`, { headers: { authorization: `Bearer ${key}`, 'x-molecule-org-id': org! } });
      const body = (await res.json()) as { workspaces?: Array<{ id: string; name: string }> } | Array<{ id: string; name: string }>;
      assert.equal(res.status, 200, JSON.stringify(body));
      const list = Array.isArray(body) ? body : (body.workspaces ?? []);
      assert.ok(
        list.some((w) => w.id === workspaceId && w.name === 'my-agent'),
        `the workspace created before the restart is listed: ${JSON.stringify(body)}`,
      );
    } finally {
      second.proc.kill('SIGTERM');
      assert.equal(await second.exited, 0, second.out());
    }
  });

  it('starts again after the launcher was killed with SIGKILL (its server orphaned, postmaster.pid left behind)', async () => {
    const killed = await up(dir);
    const postmaster = Number(readFileSync(path.join(dir, 'pg', 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const orphan = descendants(killed.proc.pid!).find((p) => p.pid === postmaster);
    assert.ok(orphan, 'the postmaster was started by the launcher');
    killed.proc.kill('SIGKILL');
    await killed.exited;
    assert.ok(stillRunning(orphan), 'a kill -9 of the launcher leaves its server running');

    const next = await up(dir);
    try {
      assert.equal(stillRunning(orphan), false, 'the next start stopped the orphaned server');
      const exp = /export MOLECULE_URL=(\S+) ORG=(\S+) KEY=(\S+)/.exec(next.banner);
      assert.ok(exp, next.banner);
      const res = await fetch(`${exp[1]}/workspaces`, { headers: { authorization: `Bearer ${exp[3]}`, 'x-molecule-org-id': exp[2]! } });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.match(text, /my-agent/, 'the data survived');
    } finally {
      next.proc.kill('SIGINT');
      assert.equal(await next.exited, 0, next.out());
    }
  });
});
