/**
 * `molecule workspace …` end to end: the real binary against a real tenant on loopback (pipes and a real pty).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { runCli, runCliInTerminal } from './support/cli.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

const REQUEST_ID = /\(request [^)]+\)/;

// Workspaces that really run (the local provisioner): an agent that prints a line, then just stays up.
const templates = mkdtempSync(path.join(tmpdir(), 'molecule-cli-templates-'));
mkdirSync(path.join(templates, 'sleeper'));
writeFileSync(path.join(templates, 'sleeper', 'template.json'), JSON.stringify({ command: 'echo agent-started; sleep 100000' }));

forEachDatabase('CLI workspace', (kind) => {
  let t: TestTenant;
  let env: Record<string, string>;
  let readerEnv: Record<string, string>;

  before(async () => {
    t = await startTestTenant(kind, { listen: true, env: { WORKSPACE_PROVISIONER: 'local', HEARTBEAT_INTERVAL_SECONDS: '1', MOLECULE_TEMPLATES_DIR: templates } });
    const admin = await t.mintKey({ name: 'cli-admin' });
    const reader = await t.mintKey({ name: 'cli-reader', role: 'reader' });
    env = { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId, MOLECULE_API_KEY: admin.auth_token };
    readerEnv = { ...env, MOLECULE_API_KEY: reader.auth_token };
  });
  after(async () => {
    await t.close();
  });

  it('create (with an org key), list, inspect by name and id: tables for people, the API\'s fields under --json', async () => {
    const created = await runCli(['workspace', 'create', 'alpha', '--tier', '2', '--json'], { env });
    assert.equal(created.code, 0, created.stderr);
    const body = created.json<Record<string, unknown>>();
    for (const field of ['id', 'name', 'status', 'tier', 'runtime', 'parent_id', 'created_at', 'auth_token', 'token_id']) assert.ok(field in body, `create --json lacks ${field}`);
    assert.equal(body['name'], 'alpha');
    assert.equal(body['tier'], 2);

    const child = await runCli(['workspace', 'create', 'alpha-child', '--parent', 'alpha'], { env });
    assert.equal(child.code, 0, child.stderr);
    assert.match(child.stdout, /✓ created workspace alpha-child \([0-9a-f-]{36}\)/);

    const list = await runCli(['workspace', 'list', '--json'], { env });
    assert.equal(list.code, 0, list.stderr);
    const rows = list.json<Array<{ id: string; name: string; parent_id: string | null; status: string }>>();
    assert.deepEqual(rows.map((r) => r.name).filter((n) => n.startsWith('alpha')).sort(), ['alpha', 'alpha-child']);
    assert.equal(rows.find((r) => r.name === 'alpha-child')!.parent_id, body['id']);

    const table = await runCli(['workspace', 'ls'], { env });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^\s*ID\s+NAME\s+STATUS\s+TIER/m);
    assert.match(table.stdout, new RegExp(`${body['id']}\\s+alpha\\s+`));

    const byName = await runCli(['workspaces', 'inspect', 'alpha', '-o', 'json'], { env });
    assert.equal(byName.code, 0, byName.stderr);
    assert.equal(byName.json<{ id: string }>().id, body['id']);
    const human = await runCli(['workspace', 'inspect', String(body['id'])], { env });
    assert.match(human.stdout, /^name\s+alpha$/m);
    assert.match(human.stdout, /^tier\s+2$/m);
  });

  it('failures exit by the table and show the server message and request id', async () => {
    const unknown = await runCli(['workspace', 'inspect', '00000000-0000-4000-8000-000000000000'], { env });
    assert.equal(unknown.code, 6, unknown.stderr);
    assert.match(unknown.stderr, /error: .*not found.* \[404 [A-Z_]+\]/i);
    assert.match(unknown.stderr, REQUEST_ID);
    const unknownJson = await runCli(['workspace', 'inspect', '00000000-0000-4000-8000-000000000000', '--json'], { env });
    const err = JSON.parse(unknownJson.stderr) as { code: string; status: number; exit_code: number; request_id: string | null; message: string };
    assert.equal(err.status, 404);
    assert.equal(err.exit_code, 6);
    assert.ok(err.request_id);

    const noName = await runCli(['workspace', 'inspect', 'nope'], { env });
    assert.equal(noName.code, 6);
    assert.match(noName.stderr, /no workspace named "nope"/);

    const reader = await runCli(['workspace', 'create', 'sneaky'], { env: readerEnv });
    assert.equal(reader.code, 5, reader.stderr);
    assert.match(reader.stderr, /role \(reader\) does not permit/);
    assert.match(reader.stderr, REQUEST_ID);

    const noCredential = await runCli(['workspace', 'list'], { env: { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId } });
    assert.equal(noCredential.code, 4);
    assert.match(noCredential.stderr, /not signed in/);
    const badKey = await runCli(['workspace', 'list'], { env: { ...env, MOLECULE_API_KEY: 'mola_not-a-real-key-at-all-000000' } });
    assert.equal(badKey.code, 4, badKey.stderr);
    assert.match(badKey.stderr, REQUEST_ID);

    const badFlag = await runCli(['workspace', 'create', 'x', '--tier', 'abc'], { env });
    assert.equal(badFlag.code, 3);
    assert.match(badFlag.stderr, /--tier must be a positive integer/);
    const unknownFlag = await runCli(['workspace', 'list', '--bogus'], { env });
    assert.equal(unknownFlag.code, 3);

    // Names are unique among siblings only: a top-level "twin" and a child "twin" — the CLI refuses to guess.
    const family = await t.createWorkspace({ name: 'family' });
    assert.equal((await runCli(['workspace', 'create', 'twin'], { env })).code, 0);
    assert.equal((await runCli(['workspace', 'create', 'twin', '--parent', family.id], { env })).code, 0);
    const ambiguous = await runCli(['workspace', 'restart', 'twin'], { env });
    assert.equal(ambiguous.code, 3, `${ambiguous.stdout}\n${ambiguous.stderr}`);
    assert.match(ambiguous.stderr, /2 workspaces are named "twin": [0-9a-f-]{36}, [0-9a-f-]{36} — pass the id/);

    // Live children without --cascade: the server's 409 is exit 7.
    const conflict = await runCli(['workspace', 'delete', 'family', '--yes'], { env });
    assert.equal(conflict.code, 7, conflict.stderr);
    assert.match(conflict.stderr, /\[409 /);
  });

  it('delete: refused without --yes in pipes; typed-name confirmation in a terminal (a wrong name is refused)', async () => {
    const created = (await runCli(['workspace', 'create', 'doomed', '--json'], { env })).json<{ id: string }>();
    const piped = await runCli(['workspace', 'delete', 'doomed'], { env });
    assert.equal(piped.code, 3);
    assert.match(piped.stderr, /refusing to delete workspace doomed .* pass --yes/);
    assert.equal((await runCli(['workspace', 'inspect', created.id], { env })).code, 0);

    const term = runCliInTerminal(['workspace', 'delete', 'doomed'], { env });
    await term.waitFor('Type doomed to confirm');
    term.type('dooomed\r');
    await term.waitFor('type doomed exactly');
    assert.equal((await runCli(['workspace', 'inspect', created.id], { env })).code, 0, 'a wrong name deleted nothing');
    // Clear the wrong answer, then type the right one.
    term.type('\x7f'.repeat(10));
    term.type('doomed\r');
    const done = await term.done;
    assert.equal(done.code, 0, done.stdout);
    assert.match(done.stdout, /deleted workspace doomed/);
    const gone = await runCli(['workspace', 'inspect', created.id], { env });
    assert.equal(gone.code, 6);

    const tree = await t.createWorkspace({ name: 'tree' });
    await t.createWorkspace({ name: 'leaf', parent_id: tree.id });
    const yes = await runCli(['workspace', 'delete', 'tree', '--cascade', '--yes', '--json'], { env });
    assert.equal(yes.code, 0, yes.stderr);
    assert.deepEqual(Object.keys(yes.json<object>()).sort(), ['cascade_deleted', 'id', 'status']);
    assert.equal(yes.json<{ cascade_deleted: number }>().cascade_deleted, 1, 'the leaf went with the tree');
  });

  it('restart, pause, resume; events lists recent ones; events --follow shows a live event until Ctrl-C', async () => {
    const ws = (await runCli(['workspace', 'create', 'streamer', '--template', 'sleeper', '--json'], { env })).json<{ id: string }>();
    const term = runCliInTerminal(['workspace', 'events', 'streamer', '--follow'], { env });
    await term.waitFor('following events');
    const restart = await runCli(['workspace', 'restart', ws.id, '--json'], { env });
    assert.equal(restart.code, 0, restart.stderr);
    assert.deepEqual(Object.keys(restart.json<object>()).sort(), ['restarted_count', 'status']);
    const seen = await term.waitFor(/WORKSPACE_PROVISIONING\s+[0-9a-f-]{36}.*"reason":"restart/);
    assert.match(seen, new RegExp(ws.id));
    term.type('\x03');
    const done = await term.done;
    assert.equal(done.code, 2, done.stdout);
    assert.match(done.stdout, /cancelled/);

    const pause = await runCli(['workspace', 'pause', 'streamer'], { env });
    assert.equal(pause.code, 0, pause.stderr);
    assert.match(pause.stdout, /paused streamer/);
    const resumed = await runCli(['workspace', 'resume', 'streamer', '--json'], { env });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.ok('resumed_count' in resumed.json<object>());

    const events = await runCli(['workspace', 'events', 'streamer', '--json'], { env });
    assert.equal(events.code, 0, events.stderr);
    const list = events.json<Array<{ id: number; event_type: string; workspace_id: string; payload: unknown; created_at: string }>>();
    assert.deepEqual(Object.keys(list[0]!).sort(), ['created_at', 'event_type', 'id', 'payload', 'workspace_id']);
    const types = list.map((e) => e.event_type);
    assert.ok(types.includes('WORKSPACE_PAUSED'), types.join(','));
    assert.ok(list[0]!.id < list[list.length - 1]!.id, 'oldest first');

    const unknown = await runCli(['workspace', 'events', '00000000-0000-4000-8000-000000000000'], { env });
    assert.equal(unknown.code, 6);
  });

  it('logs prints the runtime output; --json has the API\'s fields; a reader key is refused', async () => {
    await runCli(['workspace', 'create', 'talker', '--template', 'sleeper'], { env });
    // The agent's first line reaches the tenant's log buffer asynchronously: wait for it.
    let logs = await runCli(['workspace', 'logs', 'talker', '--json'], { env });
    for (let i = 0; i < 120 && !logs.stdout.includes('agent-started'); i++) {
      await new Promise((r) => setTimeout(r, 500));
      logs = await runCli(['workspace', 'logs', 'talker', '--json'], { env });
    }
    assert.equal(logs.code, 0, logs.stderr);
    const body = logs.json<{ workspace_id: string; lines: string[]; last_sample_error: string | null }>();
    assert.deepEqual(Object.keys(body).sort(), ['last_sample_error', 'lines', 'workspace_id']);
    assert.ok(body.lines.some((l) => l.includes('agent-started')), body.lines.join('\n'));
    const human = await runCli(['workspace', 'logs', 'talker', '--tail', '50'], { env });
    assert.match(human.stdout, /agent-started/);
    const reader = await runCli(['workspace', 'logs', 'talker'], { env: readerEnv });
    assert.equal(reader.code, 5, reader.stderr);
  });
});
