import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { AGENT_PATH, AgentSandbox } from './agent-sandbox.js';

const isRoot = process.getuid?.() === 0;
const quiet = { warn: () => undefined, error: () => undefined };
const ids = ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-00000000000c'] as const;
const dirs: string[] = [];
const scratch = (name: string) => {
  const d = mkdtempSync(path.join(tmpdir(), `molecule-sandbox-${name}-`));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('agent sandbox: one uid per workspace', { skip: isRoot ? false : 'uid isolation needs root' }, () => {
  it('never gives two workspaces the same uid, keeps a uid across restarts, frees it on removal, and says when the range is full', async () => {
    const root = scratch('uids');
    const make = () => new AgentSandbox({ mode: 'uid', homeRoot: root, uidBase: 950_000, uidCount: 2, log: quiet });
    const sandbox = make();
    const a = sandbox.launch(ids[0], 'true', { K: 'v' });
    const b = sandbox.launch(ids[1], 'true', {});
    const uidA = statSync(a.cwd).uid;
    const uidB = statSync(b.cwd).uid;
    assert.deepEqual([uidA, uidB].sort(), [950_000, 950_001]);
    assert.equal(statSync(a.cwd).mode & 0o777, 0o700);
    assert.equal(statSync(root).mode & 0o777, 0o711);
    // The launch: setpriv to that uid, no groups, no capabilities, a parent-death signal; then the shell.
    assert.match(a.argv[0]!, /setpriv$/);
    assert.deepEqual(a.argv.slice(1, 5), ['--reuid', String(uidA), '--regid', String(uidA)]);
    for (const flag of ['--clear-groups', '--no-new-privs', '--pdeathsig']) assert.ok(a.argv.includes(flag), flag);
    assert.deepEqual(a.argv.slice(-3), ['/bin/sh', '-c', 'true']);
    assert.deepEqual(a.env, { K: 'v', PATH: AGENT_PATH, HOME: a.cwd });
    assert.throws(() => sandbox.launch(ids[2], 'true', {}), /no free agent uid left in 950000-950001/);
    // A restarted tenant finds the same uids from the directories' owners.
    const again = make();
    assert.equal(statSync(again.launch(ids[1], 'true', {}).cwd).uid, uidB);
    await again.remove(ids[0]);
    assert.equal(statSync(again.launch(ids[2], 'true', {}).cwd).uid, uidA);
  });

  it('makes the data directory private: traverse-only when the agents live inside, the rest owner-only', () => {
    const data = scratch('data');
    writeFileSync(path.join(data, 'secrets.key'), 'k', { mode: 0o644 });
    mkdirSync(path.join(data, 'tenant'), { mode: 0o755 });
    new AgentSandbox({ mode: 'uid', homeRoot: path.join(data, 'agents'), uidBase: 950_010, uidCount: 10, log: quiet, privateDataDir: data });
    assert.equal(statSync(data).mode & 0o777, 0o711);
    assert.equal(statSync(path.join(data, 'secrets.key')).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(data, 'tenant')).mode & 0o777, 0o700);
    assert.equal(statSync(path.join(data, 'agents')).mode & 0o777, 0o711);
  });

  it('leaves a self-guarded entry (the embedded server, another OS user) traverse-only, and its contents alone', () => {
    const data = scratch('guarded');
    mkdirSync(path.join(data, 'pg', 'data'), { recursive: true, mode: 0o711 });
    writeFileSync(path.join(data, 'pg', 'password'), 'p', { mode: 0o600 });
    writeFileSync(path.join(data, 'secrets.key'), 'k', { mode: 0o644 });
    // Agents' homes elsewhere: the data directory is still traverse-only, for the server's user.
    new AgentSandbox({ mode: 'uid', homeRoot: scratch('homes-elsewhere'), uidBase: 950_050, uidCount: 2, log: quiet, privateDataDir: data, selfGuardedEntries: ['pg'] });
    assert.equal(statSync(data).mode & 0o777, 0o711);
    assert.equal(statSync(path.join(data, 'pg')).mode & 0o777, 0o711);
    assert.equal(statSync(path.join(data, 'pg', 'password')).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(data, 'secrets.key')).mode & 0o777, 0o600);
  });

  it('moves default agent directories agents could not walk down to (a private parent) to the temporary directory', () => {
    const privateParent = scratch('private'); // mkdtemp makes it 0700: other users cannot traverse it
    const dataDir = path.join(privateParent, 'data');
    mkdirSync(dataDir);
    const logged: string[] = [];
    const log = { warn: (_: object, msg: string) => void logged.push(msg), error: (_: object, msg: string) => void logged.push(msg) };
    const byDefault = new AgentSandbox({ mode: 'uid', homeRoot: path.join(dataDir, 'agents'), homeRootIsDefault: true, uidBase: 950_020, uidCount: 2, log });
    dirs.push(byDefault.homeRoot);
    assert.equal(path.dirname(byDefault.homeRoot), tmpdir());
    assert.match(path.basename(byDefault.homeRoot), /^molecule-agents-[0-9a-f]{12}$/);
    assert.equal(statSync(byDefault.homeRoot).mode & 0o777, 0o711);
    // Stable: the same data directory always maps to the same place, so uids are found again after a restart.
    assert.equal(new AgentSandbox({ mode: 'uid', homeRoot: path.join(dataDir, 'agents'), homeRootIsDefault: true, uidBase: 950_020, uidCount: 2, log: quiet }).homeRoot, byDefault.homeRoot);
    assert.ok(logged.some((m) => m.includes('moved out of the data directory')), logged.join('\n'));
    // A data directory that is private itself (mkdtemp's 0700) is no reason to move: the sandbox opens it up.
    const ownData = scratch('own-data');
    const inside = new AgentSandbox({ mode: 'uid', homeRoot: path.join(ownData, 'agents'), homeRootIsDefault: true, uidBase: 950_040, uidCount: 2, log: quiet, privateDataDir: ownData });
    assert.equal(inside.homeRoot, path.join(ownData, 'agents'));
    assert.equal(statSync(ownData).mode & 0o777, 0o711);
    // The operator's own choice is kept, and the problem is said loudly instead.
    logged.length = 0;
    const chosen = new AgentSandbox({ mode: 'uid', homeRoot: path.join(dataDir, 'chosen'), uidBase: 950_030, uidCount: 2, log });
    assert.equal(chosen.homeRoot, path.join(dataDir, 'chosen'));
    assert.ok(logged.some((m) => m.includes('cannot reach their directories')), logged.join('\n'));
  });

  it('refuses a uid range that reaches system users', () => {
    assert.throws(() => new AgentSandbox({ mode: 'uid', homeRoot: scratch('low'), uidBase: 0, uidCount: 10, log: quiet }), /1000 or above/);
  });
});
