/** `molecule secret …` end to end: the real binary against a real tenant on loopback; values from stdin or a masked prompt. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { runCli, runCliInTerminal } from './support/cli.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

forEachDatabase('CLI secret', (kind) => {
  let t: TestTenant;
  let env: Record<string, string>;
  let readerEnv: Record<string, string>;
  let workspaceId: string;
  let workspaceToken: string;
  /** The workspace's decrypted secrets, read as its runtime would (only its own token may). */
  const stored = async () => {
    const res = await t.app.inject({ method: 'GET', url: `/workspaces/${workspaceId}/secrets/values`, headers: t.as(workspaceToken) });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as Record<string, string>;
  };

  before(async () => {
    t = await startTestTenant(kind, { listen: true, env: { WORKSPACE_PROVISIONER: 'none', SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64') } });
    env = { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId, MOLECULE_API_KEY: (await t.mintKey({ name: 'cli-admin' })).auth_token };
    readerEnv = { ...env, MOLECULE_API_KEY: (await t.mintKey({ name: 'cli-reader', role: 'reader' })).auth_token };
    const ws = await t.createWorkspace({ name: 'vault' });
    workspaceId = ws.id;
    workspaceToken = ws.auth_token;
  });
  after(async () => {
    await t.close();
  });

  it('set from stdin (org-wide and on a workspace by name); list shows names and scopes, never values', async () => {
    const org = await runCli(['secret', 'set', 'ORG_TOKEN'], { env, input: 'org-value-123\n' });
    assert.equal(org.code, 0, org.stderr);
    assert.match(org.stdout, /✓ set ORG_TOKEN org-wide/);
    const ws = await runCli(['secret', 'set', 'WS_TOKEN', '--workspace', 'vault', '--json'], { env, input: 'ws-value-456' });
    assert.equal(ws.code, 0, ws.stderr);
    assert.deepEqual(ws.json(), { status: 'saved', key: 'WS_TOKEN' });

    const list = await runCli(['secret', 'list', '--workspace', workspaceId, '--json'], { env });
    assert.equal(list.code, 0, list.stderr);
    const rows = list.json<Array<{ key: string; scope: string; has_value: boolean }>>();
    assert.deepEqual(Object.keys(rows[0]!).sort(), ['created_at', 'has_value', 'key', 'scope', 'updated_at']);
    assert.deepEqual(rows.map((r) => `${r.key}:${r.scope}`).sort(), ['ORG_TOKEN:global', 'WS_TOKEN:workspace']);
    const human = await runCli(['secret', 'list'], { env });
    assert.match(human.stdout, /ORG_TOKEN\s+global/);
    for (const out of [list.stdout, human.stdout]) {
      assert.doesNotMatch(out, /org-value-123|ws-value-456/);
    }
    // The value really is stored: the workspace's decrypted view (admin) has it.
    const values = await stored();
    assert.equal(values['WS_TOKEN'], 'ws-value-456', JSON.stringify(values));
    assert.equal(values['ORG_TOKEN'], 'org-value-123');
  });

  it('set from the masked prompt in a terminal: the value is never echoed', async () => {
    const term = runCliInTerminal(['secret', 'set', 'TYPED', '--workspace', 'vault'], { env });
    await term.waitFor('Value of TYPED');
    term.type('typed-secret-789\r');
    const done = await term.done;
    assert.equal(done.code, 0, done.stdout);
    assert.match(done.stdout, /set TYPED on workspace vault/);
    assert.doesNotMatch(done.stdout, /typed-secret-789/);
    assert.equal((await stored())['TYPED'], 'typed-secret-789');
  });

  it('failures: empty stdin → 3, a reader key → 5, an unknown workspace → 6, no credential → 4; delete needs --yes in pipes', async () => {
    const empty = await runCli(['secret', 'set', 'EMPTY'], { env, input: '' });
    assert.equal(empty.code, 3);
    assert.match(empty.stderr, /no value on stdin/);
    const reader = await runCli(['secret', 'set', 'NOPE'], { env: readerEnv, input: 'x' });
    assert.equal(reader.code, 5, reader.stderr);
    assert.match(reader.stderr, /\[403 [A-Z_]+\] \(request [^)]+\)/);
    const unknown = await runCli(['secret', 'list', '--workspace', '00000000-0000-4000-8000-000000000000'], { env });
    assert.equal(unknown.code, 6);
    const anonymous = await runCli(['secret', 'list'], { env: { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId } });
    assert.equal(anonymous.code, 4);

    const refused = await runCli(['secret', 'delete', 'ORG_TOKEN'], { env });
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /pass --yes/);
    const deleted = await runCli(['secret', 'delete', 'ORG_TOKEN', '--yes', '--json'], { env });
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.json<{ key: string }>().key, 'ORG_TOKEN');
    const again = await runCli(['secret', 'delete', 'ORG_TOKEN', '--yes'], { env });
    assert.equal(again.code, 6, again.stderr);
    const wsDelete = await runCli(['secret', 'rm', 'WS_TOKEN', '--workspace', 'vault', '--yes'], { env });
    assert.equal(wsDelete.code, 0, wsDelete.stderr);
    const left = (await runCli(['secret', 'list', '--workspace', 'vault', '--json'], { env })).json<Array<{ key: string }>>();
    assert.deepEqual(left.map((r) => r.key), ['TYPED']);
  });
});
