/**
 * An agent command is arbitrary code (issue 7). The real tenant binary runs as root with its credentials in its
 * environment and its data on disk; a template command run as the agent tries to steal them — the tenant's and the
 * runtime's /proc environ, the generated secrets key, the data directory and the database files, another
 * workspace's directory — and prints its own environment. Nothing of the tenant's may appear in what it got.
 */
import assert from 'node:assert/strict';
import { agentUidRange } from './support/agent-uids.js';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { mintCredential } from '../src/core/credentials/format.js';
import { newUuid } from '../src/core/ids.js';
import { createScratchDatabase, forEachDatabase } from './harness.js';
import { startBinary, type Child } from './support/binary.js';

const isRoot = process.getuid?.() === 0;

/** The victim keeps a private file in its own directory; the thief tries everything and reports to its own. */
const THIEF = String.raw`exec > "$HOME/out.txt" 2>&1
echo "== tenant environ"; cat "/proc/$TENANT_PID/environ"
echo "== runtime environ"; cat "/proc/$PPID/environ"
echo "== tenant cmdline"; tr '\0' ' ' < "/proc/$TENANT_PID/cmdline"; echo
echo "== key"; cat "$DATA_DIR/secrets.key"
echo "== data dir"; ls -la "$DATA_DIR"
echo "== database files"; ls -la "$DATA_DIR/tenant"; cat "$DATA_DIR/tenant/PG_VERSION"
echo "== other workspace"; ls -la "$OTHER_HOME"; cat "$OTHER_HOME/private.txt"
echo "== agents"; ls "$AGENTS_DIR"
echo "== own api"; node -e 'fetch(process.env.PLATFORM_URL + "/workspaces/" + process.env.WORKSPACE_ID, { headers: { authorization: "Bearer " + process.env.MOLECULE_WORKSPACE_TOKEN, "x-molecule-org-id": process.env.MOLECULE_ORG_ID } }).then((r) => console.log("status", r.status))'
echo "== env"; env
echo "== done"
sleep 100000`;

function alive(pid: number): boolean {
  try {
    const state = /^State:\s*(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return state !== undefined && state !== 'Z';
  } catch {
    return false;
  }
}

function pidsOfUid(uid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const text = readFileSync(`/proc/${d}/status`, 'utf8');
        return Number(/^Uid:\s*(\d+)/m.exec(text)?.[1]) === uid && !/^State:\s*Z/m.test(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function until<T>(what: string, probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

forEachDatabase('agent isolation against the real tenant binary', (kind) => {
  const adminToken = mintCredential('tenantAdminToken').plaintext;
  const orgId = newUuid();
  let dataDir: string;
  let templates: string;
  let databaseUrl = '';
  let tenant: Child | null = null;
  let dropDatabase: () => Promise<void> = async () => undefined;

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'molecule-isolation-'));
    templates = mkdtempSync(path.join(tmpdir(), 'molecule-isolation-templates-'));
    for (const [name, command] of [
      ['victim', 'echo OTHER-WORKSPACE-PRIVATE > "$HOME/private.txt"; sleep 100000'],
      ['thief', THIEF],
    ] as const) {
      mkdirSync(path.join(templates, name));
      writeFileSync(path.join(templates, name, 'template.json'), JSON.stringify({ command }));
    }
    const env: Record<string, string> = {
      ADMIN_TOKEN: adminToken,
      MOLECULE_ORG_ID: orgId,
      MOLECULE_ORG_SLUG: 'acme',
      MOLECULE_DATA_DIR: dataDir,
      MOLECULE_TEMPLATES_DIR: templates,
      HEARTBEAT_INTERVAL_SECONDS: '1',
      // Its own uid range: test files run in parallel, and a tenant kills every process of its agents' uids.
      ...agentUidRange(),
    };
    if (kind === 'postgres') {
      const scratch = await createScratchDatabase();
      databaseUrl = scratch.url;
      env['DATABASE_URL'] = scratch.url;
      dropDatabase = () => scratch.drop();
    }
    if (isRoot) tenant = await startBinary('tenant', env);
  });

  after(async () => {
    if (tenant && tenant.proc.exitCode === null) {
      tenant.proc.kill('SIGTERM');
      await tenant.exited;
    }
    await dropDatabase();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(templates, { recursive: true, force: true });
  });

  const call = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${tenant!.url}${url}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'x-molecule-org-id': orgId, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('an agent reads nothing of the tenant’s, the runtime’s or another workspace’s; its environment is its secrets and identity', { skip: isRoot ? false : 'uid isolation needs the tenant to run as root' }, async () => {
    const child = tenant!;
    const tenantPid = child.proc.pid!;
    // The loot exists and the test can see it: the assertions below could fail.
    const tenantEnviron = readFileSync(`/proc/${tenantPid}/environ`, 'utf8');
    assert.ok(tenantEnviron.includes(adminToken));
    const keyFile = path.join(dataDir, 'secrets.key');
    const key = readFileSync(keyFile, 'utf8').trim();
    assert.ok(key.length >= 43);
    // The data directory is private: traverse-only (agents' homes are inside), key and database owner-only.
    assert.equal(statSync(dataDir).mode & 0o777, 0o711);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    if (kind === 'pglite') assert.equal(statSync(path.join(dataDir, 'tenant')).mode & 0o777, 0o700);
    const agents = path.join(dataDir, 'agents');

    const victim = await call('POST', '/workspaces', { name: 'victim', template: 'victim' });
    assert.equal(victim.status, 201, JSON.stringify(victim.body));
    const victimHome = path.join(agents, String(victim.body['id']));
    await until('the victim’s private file', () => existsSync(path.join(victimHome, 'private.txt')));
    const thief = await call('POST', '/workspaces', {
      name: 'thief',
      template: 'thief',
      secrets: { TENANT_PID: String(tenantPid), DATA_DIR: dataDir, OTHER_HOME: victimHome, AGENTS_DIR: agents, AGENT_SETTING: 'visible-to-agent' },
    });
    assert.equal(thief.status, 201, JSON.stringify(thief.body));
    const thiefId = String(thief.body['id']);
    const thiefHome = path.join(agents, thiefId);
    const out = await until('the thief’s report', () => {
      const file = path.join(thiefHome, 'out.txt');
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      return text.includes('== done') ? text : null;
    });

    // Each attempt was made and refused.
    const section = (name: string) => out.split(`== ${name}\n`)[1]!.split('\n== ')[0]!;
    // (On PostgreSQL the database files live with the server, not in the data directory.)
    for (const name of ['tenant environ', 'runtime environ', 'key', ...(kind === 'pglite' ? ['database files'] : []), 'other workspace', 'agents']) {
      assert.match(section(name), /Permission denied/, `${name}: ${section(name)}`);
    }
    assert.match(section('data dir'), /Permission denied/);
    // Nothing of the tenant's, nor of the other workspace's, reached the agent.
    assert.equal(out.includes(adminToken), false, 'ADMIN_TOKEN leaked');
    assert.equal(out.includes(key), false, 'the secrets key leaked');
    assert.equal(out.includes(Buffer.from(key, 'base64').toString('hex')), false);
    if (databaseUrl) assert.equal(out.includes(databaseUrl), false, 'DATABASE_URL leaked');
    assert.equal(out.includes('OTHER-WORKSPACE-PRIVATE'), false, 'another workspace’s file leaked');
    assert.equal(out.includes(String(victim.body['auth_token'])), false);
    // It can still call its own API with its own identity.
    assert.match(section('own api'), /^status 200$/m);
    // Its environment: its secrets, its identity, a fixed PATH and its own HOME — and PWD, which the shell adds.
    const env = Object.fromEntries(
      section('env')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    assert.deepEqual(Object.keys(env).sort(), [
      'AGENTS_DIR',
      'AGENT_SETTING',
      'DATA_DIR',
      'HOME',
      'MOLECULE_ORG_ID',
      'MOLECULE_WORKSPACE_TOKEN',
      'OTHER_HOME',
      'PATH',
      'PLATFORM_URL',
      'PWD',
      'TENANT_PID',
      'WORKSPACE_ID',
    ]);
    assert.equal(env['HOME'], thiefHome);
    assert.equal(env['WORKSPACE_ID'], thiefId);
    assert.equal(env['AGENT_SETTING'], 'visible-to-agent');
    assert.match(env['MOLECULE_WORKSPACE_TOKEN']!, /^molw_/);
    // Its own directory is its own: owner-only, owned by its uid, which is neither root nor the victim's.
    const thiefDir = statSync(thiefHome);
    const victimDir = statSync(victimHome);
    assert.equal(thiefDir.mode & 0o777, 0o700);
    assert.notEqual(thiefDir.uid, 0);
    assert.notEqual(thiefDir.uid, victimDir.uid);
    assert.ok(pidsOfUid(thiefDir.uid).length > 0, 'the thief runs under its own uid');

    // Tenant shutdown takes every agent process with it.
    child.proc.kill('SIGTERM');
    assert.equal(await child.exited, 0);
    const leftovers = await until('no agent process left', () => {
      const left = [...pidsOfUid(thiefDir.uid), ...pidsOfUid(victimDir.uid)].filter(alive);
      return left.length === 0 ? [] : null;
    });
    assert.deepEqual(leftovers, []);
  });
});
