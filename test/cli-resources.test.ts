// The `molecule` CLI's template, bundle, plugin, channel, approval and audit groups, run as the real binary against a
// real tenant on loopback: each command's effect is checked on the server, its --json field names pinned, and its
// failures checked for the exit code, the server's message and the request id.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';
import { runCli, runCliInTerminal, type CliResult } from './support/cli.js';

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

/** A failure: the exit code, the server's message and the request id it answered with. */
function failed(r: CliResult, code: number, message: string | RegExp): void {
  assert.equal(r.code, code, `expected exit ${code}, got ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  if (typeof message === 'string') assert.ok(r.stderr.includes(message), `stderr lacks "${message}":\n${r.stderr}`);
  else assert.match(r.stderr, message);
}

const REQUEST_ID = /\(request [\w-]+\)/;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

forEachDatabase('CLI: templates, bundles, plugins, channels, approvals, audit', (kind) => {
  let t: TestTenant;
  let env: Record<string, string>;
  let adminKey: { auth_token: string; prefix: string };
  let hook: Server;
  let hookUrl: string;
  const received: Received[] = [];
  const scratch = mkdtempSync(path.join(tmpdir(), 'molecule-cli-res-'));

  const cli = (args: string[], extra: { env?: Record<string, string>; input?: string } = {}) =>
    runCli(args, { env: { ...env, ...extra.env }, ...(extra.input !== undefined ? { input: extra.input } : {}) });

  async function workspaces(): Promise<{ id: string; name: string }[]> {
    const res = await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.admin() });
    return res.json() as { id: string; name: string }[];
  }

  before(async () => {
    t = await startTestTenant(kind, { listen: true, env: { CHANNEL_ALLOWED_NETWORKS: '127.0.0.1', CHANNEL_DELIVERY_POLL_MS: '50' } });
    adminKey = await t.mintKey({ name: 'cli admin' });
    env = { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId, MOLECULE_API_KEY: adminKey.auth_token };
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push({ path: req.url ?? '', headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const address = hook.address();
    hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
  });

  after(async () => {
    await new Promise<void>((resolve) => hook.close(() => resolve()));
    await t.close();
  });

  it('template: import a folder, list, inspect its files, update, switch a workspace, refresh, delete with confirmation', async () => {
    const dir = path.join(scratch, 'cli-agent');
    mkdirSync(path.join(dir, 'skills', 'web'), { recursive: true });
    writeFileSync(path.join(dir, 'config.yaml'), 'name: CLI Agent\nruntime: claude-code\n');
    writeFileSync(path.join(dir, 'system-prompt.md'), 'Be brief.\n');
    writeFileSync(path.join(dir, 'skills', 'web', 'SKILL.md'), '# web\n');

    const imported = ok(await cli(['template', 'import', dir, '--json'])).json<Record<string, unknown>>();
    assert.deepEqual(imported, { status: 'imported', id: 'cli-agent', name: 'CLI Agent' });

    const list = ok(await cli(['template', 'list', '--json'])).json<{ id: string; name: string; runtime: string }[]>();
    const mine = list.find((x) => x.id === 'cli-agent');
    assert.ok(mine, JSON.stringify(list));
    assert.equal(mine.name, 'CLI Agent');
    const table = ok(await cli(['template', 'list'])).stdout;
    assert.match(table, /^\s*ID\s+NAME\s+RUNTIME/m);
    assert.match(table, /cli-agent\s+CLI Agent/);

    const inspected = ok(await cli(['template', 'inspect', 'cli-agent', '--json'])).json<{ version: number; files: { path: string; size: number; sha256: string }[] }>();
    assert.equal(inspected.version, 1);
    const paths = inspected.files.map((f) => f.path);
    for (const p of ['config.yaml', 'system-prompt.md', 'skills/web/SKILL.md']) assert.ok(paths.includes(p), paths.join(','));
    const human = ok(await cli(['template', 'inspect', 'cli-agent'])).stdout;
    assert.match(human, /^version\s+1$/m);
    assert.match(human, /skills\/web\/SKILL\.md\s+6\s/);

    writeFileSync(path.join(dir, 'system-prompt.md'), 'Be briefer.\n');
    const updated = ok(await cli(['template', 'update', 'cli-agent', dir, '--json'])).json<Record<string, unknown>>();
    assert.deepEqual(updated, { status: 'updated', id: 'cli-agent', name: 'CLI Agent', version: 2 });
    const v2 = await t.app.inject({ method: 'GET', url: '/templates/cli-agent?content=true', headers: t.admin() });
    assert.equal((v2.json() as { files: { path: string; content: string }[] }).files.find((f) => f.path === 'system-prompt.md')?.content, 'Be briefer.\n');

    const ws = await t.createWorkspace({ name: 'switcher' });
    const switched = ok(await cli(['template', 'switch', 'switcher', 'cli-agent', '--json'])).json<Record<string, unknown>>();
    assert.deepEqual({ status: switched['status'], id: switched['id'], template: switched['template'] }, { status: 'updated', id: ws.id, template: 'cli-agent' });
    const after = await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.admin() });
    assert.equal((after.json() as { template: string }).template, 'cli-agent');

    const refreshed = ok(await cli(['template', 'refresh', '--json'])).json<Record<string, unknown>>();
    assert.equal(refreshed['status'], 'refreshed');
    for (const k of ['loaded', 'updated', 'unchanged', 'skipped']) assert.ok(Array.isArray(refreshed[k]), k);

    // Without a terminal a delete needs --yes, and nothing is deleted.
    const refused = await cli(['template', 'delete', 'cli-agent']);
    failed(refused, 3, 'pass --yes');
    assert.equal((await t.app.inject({ method: 'GET', url: '/templates/cli-agent', headers: t.admin() })).statusCode, 200);
    // In use by the switched workspace: the server's 409 is exit 7, with its message and request id.
    const inUse = await cli(['template', 'delete', 'cli-agent', '--yes']);
    failed(inUse, 7, 'template is in use by 1 workspace');
    assert.match(inUse.stderr, REQUEST_ID);
    ok(await cli(['template', 'switch', ws.id, 'shell-agent']));
    assert.deepEqual(ok(await cli(['template', 'delete', 'cli-agent', '--yes', '--json'])).json(), { status: 'deleted', id: 'cli-agent' });

    const gone = await cli(['template', 'inspect', 'cli-agent']);
    failed(gone, 6, /error: .+ \[404 [A-Z_]+\]/);
    assert.match(gone.stderr, REQUEST_ID);
    const goneJson = await cli(['template', 'inspect', 'cli-agent', '--json']);
    assert.equal(goneJson.code, 6);
    const err = JSON.parse(goneJson.stderr.trim()) as Record<string, unknown>;
    assert.equal(err['status'], 404);
    assert.equal(err['exit_code'], 6);
    assert.equal(typeof err['request_id'], 'string');

    // A folder that is not there is the CLI's own usage error; nothing is sent.
    failed(await cli(['template', 'import', path.join(scratch, 'nope')]), 3, 'no such directory');
  });

  it('bundle: export a workspace to a file and import it back as a new workspace', async () => {
    const ws = await t.createWorkspace({ name: 'bundled', role: 'writes things' });
    const file = path.join(scratch, 'bundled.json');
    const exported = ok(await cli(['bundle', 'export', 'bundled', '--out', file]));
    assert.match(exported.stderr, /wrote bundle of bundled to /);
    const bundle = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    assert.equal(bundle['schema'], '1.0');
    assert.equal(bundle['id'], ws.id);
    assert.equal(bundle['name'], 'bundled');
    assert.equal(bundle['description'], 'writes things');
    // To stdout by default: the same bundle.
    assert.equal(ok(await cli(['bundle', 'export', ws.id])).json<{ id: string }>().id, ws.id);

    const imported = ok(await cli(['bundle', 'import', file, '--json'])).json<{ workspace_id: string; name: string; status: string }>();
    assert.equal(imported.name, 'bundled (2)');
    assert.equal(imported.status, 'provisioning');
    const all = await workspaces();
    assert.ok(all.some((w) => w.id === imported.workspace_id && w.name === 'bundled (2)'), JSON.stringify(all));

    failed(await cli(['bundle', 'export', '00000000-0000-4000-8000-000000000000']), 6, REQUEST_ID);
    failed(await cli(['bundle', 'export', 'no-such-workspace']), 6, 'no workspace named "no-such-workspace"');
    writeFileSync(path.join(scratch, 'bad.json'), '{not json');
    failed(await cli(['bundle', 'import', path.join(scratch, 'bad.json')]), 3, 'is not JSON');
  });

  it('plugin: catalog, install, installed, uninstall with confirmation, and the org allowlist', async () => {
    const ws = await t.createWorkspace({ name: 'plugged' });
    const catalog = ok(await cli(['plugin', 'list', '--json'])).json<{ name: string; version: string; source: string }[]>();
    const shell = catalog.find((p) => p.name === 'shell-tools');
    assert.ok(shell, JSON.stringify(catalog));
    assert.equal(shell.source, 'local://shell-tools');

    const installed = ok(await cli(['plugin', 'install', 'plugged', 'shell-tools', '--json'])).json<Record<string, unknown>>();
    assert.equal(installed['status'], 'installed');
    assert.equal(installed['plugin'], 'shell-tools');
    assert.equal(installed['restarting'], false);
    const listed = ok(await cli(['plugin', 'installed', ws.id, '--json'])).json<{ name: string; installed_by: string }[]>();
    assert.deepEqual(listed.map((p) => p.name), ['shell-tools']);
    assert.match(ok(await cli(['plugin', 'installed', 'plugged'])).stdout, /shell-tools\s+1\.0\.0\s+local:\/\/shell-tools/);

    failed(await cli(['plugin', 'uninstall', 'plugged', 'shell-tools']), 3, 'pass --yes');
    assert.equal(ok(await cli(['plugin', 'installed', 'plugged', '--json'])).json<unknown[]>().length, 1);
    const removed = ok(await cli(['plugin', 'uninstall', 'plugged', 'shell-tools', '--yes', '--json'])).json<Record<string, unknown>>();
    assert.deepEqual(removed, { status: 'uninstalled', plugin: 'shell-tools', restarting: false });
    assert.equal(ok(await cli(['plugin', 'installed', 'plugged', '--json'])).json<unknown[]>().length, 0);

    const set = ok(await cli(['plugin', 'allowlist', 'set', 'hello-skill', '--json'])).json<Record<string, unknown>>();
    assert.deepEqual(set, { org_id: t.orgId, plugins: ['hello-skill'], allow_all: false });
    const got = ok(await cli(['plugin', 'allowlist', 'get', '--json'])).json<{ plugins: { plugin_name: string; enabled_by: string }[]; allow_all: boolean }>();
    assert.deepEqual(got.plugins.map((p) => p.plugin_name), ['hello-skill']);
    assert.match(got.plugins[0]!.enabled_by, /^cli/);
    // Not on the list: the server's 403 is exit 5, with its message.
    failed(await cli(['plugin', 'install', 'plugged', 'shell-tools']), 5, '"shell-tools" is not in the org allowlist');
    assert.equal(ok(await cli(['plugin', 'allowlist', 'set', '--allow-all', '--json'])).json<{ allow_all: boolean }>().allow_all, true);
    assert.match(ok(await cli(['plugin', 'allowlist', 'get'])).stderr, /every catalog plugin may be installed/);
    failed(await cli(['plugin', 'allowlist', 'set']), 3, '--allow-all');
  });

  it('channel: add a webhook (secret from stdin), list, test it for real, deliveries, update, remove with confirmation', async () => {
    const ws = await t.createWorkspace({ name: 'notified' });
    const secret = 'a-signing-secret-for-the-cli-test';
    const added = ok(await cli(['channel', 'add', 'notified', '--type', 'webhook', '--url', hookUrl, '--secret', '--events', 'APPROVAL_REQUESTED', '--json'], { input: secret })).json<Record<string, unknown>>();
    assert.equal(added['type'], 'webhook');
    assert.equal(added['workspace_id'], ws.id);
    assert.deepEqual(added['events'], ['APPROVAL_REQUESTED']);
    assert.equal(added['enabled'], true);
    assert.ok(!JSON.stringify(added).includes(secret), 'the secret is never echoed back');
    assert.equal(added['signing_secret'], undefined, 'a given secret is not regenerated');
    const channelId = added['id'] as string;

    // A Slack/Discord webhook URL carries its token: never taken from argv.
    failed(await cli(['channel', 'add', 'notified', '--type', 'slack', '--url', 'https://hooks.slack.com/services/T/B/x']), 3, 'pipe it on stdin');
    // Without --secret a signing secret is generated and shown once.
    const generated = ok(await cli(['channel', 'add', 'notified', '--type', 'webhook', '--url', hookUrl])).stdout;
    assert.match(generated, /signing secret \(shown once; verify deliveries with it\): \S{16,}/);

    const listed = ok(await cli(['channel', 'list', 'notified', '--json'])).json<{ id: string; type: string; config: Record<string, string> }[]>();
    assert.equal(listed.length, 2);
    assert.ok(listed.some((c) => c.id === channelId));
    assert.ok(!JSON.stringify(listed).includes(secret));
    assert.match(ok(await cli(['channel', 'list', 'notified'])).stdout, new RegExp(`${channelId}\\s+webhook`));

    const before = received.length;
    const tested = ok(await cli(['channel', 'test', 'notified', channelId, '--json'])).json<Record<string, unknown>>();
    assert.equal(tested['ok'], true);
    assert.equal(tested['status_code'], 204);
    assert.equal(typeof tested['duration_ms'], 'number');
    assert.equal(received.length, before + 1);
    assert.match(String(received[received.length - 1]!.headers['x-molecule-signature']), /^t=\d+,v1=[0-9a-f]{64}$/);
    assert.match(ok(await cli(['channel', 'test', 'notified', channelId])).stdout, /delivered \(HTTP 204/);

    // A real event the channel subscribes to: the workspace asks for an approval; the worker delivers it.
    const asked = await t.app.inject({ method: 'POST', url: `/workspaces/${ws.id}/approvals`, headers: t.as(ws.auth_token), payload: { action: 'deploy', reason: 'cli test' } });
    assert.equal(asked.statusCode, 201, asked.body);
    type Delivery = { channel_id: string; event_type: string; status: string; attempts: number; last_status_code: number | null };
    let deliveries: Delivery[] = [];
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      deliveries = ok(await cli(['channel', 'deliveries', 'notified', channelId, '--json'])).json<Delivery[]>();
      if (deliveries.some((d) => d.status === 'delivered')) break;
    }
    const delivered = deliveries.find((d) => d.status === 'delivered');
    assert.ok(delivered, JSON.stringify(deliveries));
    assert.deepEqual({ channel_id: delivered.channel_id, event_type: delivered.event_type, last_status_code: delivered.last_status_code }, { channel_id: channelId, event_type: 'APPROVAL_REQUESTED', last_status_code: 204 });
    assert.match(ok(await cli(['channel', 'deliveries', 'notified', channelId])).stdout, /APPROVAL_REQUESTED\s+delivered\s+1\s+204/);

    const disabled = ok(await cli(['channel', 'update', 'notified', channelId, '--disable', '--events', 'APPROVAL_REQUESTED,BUDGET_EXCEEDED', '--json'])).json<Record<string, unknown>>();
    assert.equal(disabled['enabled'], false);
    assert.deepEqual(disabled['events'], ['APPROVAL_REQUESTED', 'BUDGET_EXCEEDED']);
    failed(await cli(['channel', 'update', 'notified', channelId]), 3, 'nothing to change');

    failed(await cli(['channel', 'remove', 'notified', channelId]), 3, 'pass --yes');
    assert.equal(ok(await cli(['channel', 'list', 'notified', '--json'])).json<unknown[]>().length, 2);
    assert.deepEqual(ok(await cli(['channel', 'remove', 'notified', channelId, '--yes', '--json'])).json(), { status: 'deleted' });
    assert.equal(ok(await cli(['channel', 'list', 'notified', '--json'])).json<unknown[]>().length, 1);
    const missing = await cli(['channel', 'test', 'notified', channelId]);
    failed(missing, 6, REQUEST_ID);
  });

  it('approval: an approval-required key is held, `approval list` shows who asked, an admin key approves, the retry runs once', async () => {
    const gatedKey = await t.mintKey({ name: 'agent key', approval_required: true });
    const gated = { MOLECULE_API_KEY: gatedKey.auth_token };
    const dir = path.join(scratch, 'doomed');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'system-prompt.md'), 'x\n');
    ok(await cli(['template', 'import', dir, '--name', 'doomed']));

    // Every DELETE of an approval-required key is held: nothing is deleted, and the CLI says what to do.
    const held = ok(await cli(['template', 'delete', 'doomed', '--yes'], { env: gated }));
    assert.match(held.stderr, /held for approval apr_\w+ \(delete\): nothing was changed yet/);
    const heldJson = ok(await cli(['template', 'delete', 'doomed', '--yes', '--json'], { env: gated })).json<{ status: string; approval_id: string }>();
    assert.equal(heldJson.status, 'pending_approval');
    const approvalId = heldJson.approval_id;
    assert.ok(held.stderr.includes(approvalId), 'the same request reuses its pending approval');
    assert.equal((await t.app.inject({ method: 'GET', url: '/templates/doomed', headers: t.admin() })).statusCode, 200);

    const pending = ok(await cli(['approval', 'list', '--json'])).json<{ id: string; action: string; requested_by: string; created_at: string }[]>();
    const mine = pending.find((a) => a.id === approvalId);
    assert.ok(mine, JSON.stringify(pending));
    assert.equal(mine.action, 'delete');
    assert.equal(mine.requested_by, `org-token:${gatedKey.prefix}`);
    const table = ok(await cli(['approvals', 'list'])).stdout;
    assert.match(table, /ID\s+ACTION\s+REQUESTED BY\s+WORKSPACE\s+REASON\s+ASKED/);
    assert.match(table, new RegExp(`${approvalId}\\s+delete\\s+org-token:${gatedKey.prefix}\\s+\\(org\\).*just now`));
    const inspected = ok(await cli(['approval', 'inspect', approvalId, '--json'])).json<Record<string, unknown>>();
    assert.equal(inspected['status'], 'pending');
    assert.equal(inspected['decided_by'], null);

    // The requester cannot decide its own request (nor can any approval-required key).
    failed(await cli(['approval', 'approve', approvalId], { env: gated }), 5, REQUEST_ID);
    assert.deepEqual(ok(await cli(['approval', 'approve', approvalId, '--json'])).json(), { status: 'approved', approval_id: approvalId });
    assert.equal(ok(await cli(['approval', 'inspect', approvalId, '--json'])).json<{ status: string; decided_by: string }>().decided_by, `org-token:${adminKey.prefix}`);
    assert.ok(!ok(await cli(['approval', 'list', '--json'])).json<{ id: string }[]>().some((a) => a.id === approvalId));
    failed(await cli(['approval', 'deny', approvalId]), 6, /approval not found or already decided .*\(request /);

    // The identical request now runs, once.
    assert.deepEqual(ok(await cli(['template', 'delete', 'doomed', '--yes', '--json'], { env: gated })).json(), { status: 'deleted', id: 'doomed' });
    assert.equal((await t.app.inject({ method: 'GET', url: '/templates/doomed', headers: t.admin() })).statusCode, 404);

    // deny: a second held request, denied.
    ok(await cli(['template', 'import', dir, '--name', 'doomed']));
    const second = ok(await cli(['template', 'delete', 'doomed', '--yes', '--json'], { env: gated })).json<{ approval_id: string }>();
    assert.deepEqual(ok(await cli(['approval', 'deny', second.approval_id, '--json'])).json(), { status: 'denied', approval_id: second.approval_id });
    assert.equal(ok(await cli(['approval', 'inspect', second.approval_id, '--json'])).json<{ status: string }>().status, 'denied');
  });

  it('on a terminal: a delete asks for the typed id, and a signing secret is read from a masked prompt', async () => {
    const dir = path.join(scratch, 'typed');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'system-prompt.md'), 'x\n');
    ok(await cli(['template', 'import', dir, '--name', 'typed']));
    const del = runCliInTerminal(['template', 'delete', 'typed'], { env });
    await del.waitFor('Type typed to confirm');
    del.type('wrong\r');
    await del.waitFor('type typed exactly');
    // Clear the wrong answer, then type the id.
    del.type('\u007f'.repeat(5) + 'typed\r');
    const deleted = await del.done;
    assert.equal(deleted.code, 0, deleted.stdout);
    assert.match(deleted.stdout, /deleted template typed/);
    assert.equal((await t.app.inject({ method: 'GET', url: '/templates/typed', headers: t.admin() })).statusCode, 404);

    await t.createWorkspace({ name: 'prompted' });
    const secret = 'typed-at-a-masked-prompt-123';
    const add = runCliInTerminal(['channel', 'add', 'prompted', '--type', 'webhook', '--url', hookUrl, '--secret'], { env });
    await add.waitFor('Signing secret');
    add.type(`${secret}\r`);
    const added = await add.done;
    assert.equal(added.code, 0, added.stdout);
    assert.match(added.stdout, /added webhook channel [0-9a-f-]{36}/);
    assert.ok(!added.stdout.includes(secret), `the secret was echoed:\n${added.stdout}`);
    const channelId = /added webhook channel ([0-9a-f-]{36})/.exec(added.stdout)![1]!;
    const before = received.length;
    ok(await cli(['channel', 'test', 'prompted', channelId]));
    // Other channels' deliveries may land meanwhile: one request since is signed with the secret typed at the prompt.
    const signedWith = (r: Received) => {
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(r.headers['x-molecule-signature']));
      return m !== null && m[2] === createHmac('sha256', secret).update(`${m[1]}.${r.body}`).digest('hex');
    };
    assert.equal(received.slice(before).filter(signedWith).length, 1);
  });

  it('audit: list with filters, verify, export, tail; a reader key is refused with the server message', async () => {
    // This test's own calls, so that it depends on no other test's.
    for (const args of [['plugin', 'list'], ['template', 'list'], ['template', 'list'], ['template', 'inspect', 'shell-agent'], ['plugin', 'list']]) ok(await cli(args));
    const listed = ok(await cli(['audit', 'list', '--limit', '5', '--json'])).json<{ events: Record<string, unknown>[]; count: number; next_cursor: number | null }>();
    assert.equal(listed.count, 5);
    assert.equal(typeof listed.next_cursor, 'number');
    for (const k of ['seq', 'occurred_at', 'actor', 'credential_id', 'method', 'path', 'status', 'request_id', 'hash', 'prev_hash']) assert.ok(k in listed.events[0]!, k);

    const filtered = ok(await cli(['audit', 'list', '--path', '/plugins', '--method', 'get', '--actor', `org-token:${adminKey.prefix}`, '--json'])).json<{ events: { path: string; method: string; actor: string }[] }>();
    assert.ok(filtered.events.length >= 1);
    for (const e of filtered.events) {
      assert.ok(e.path.startsWith('/plugins'), e.path);
      assert.equal(e.method, 'GET');
    }
    assert.equal(ok(await cli(['audit', 'list', '--status', '403', '--since', '1h', '--json'])).json<{ events: { status: number }[] }>().events.every((e) => e.status === 403), true);
    const table = ok(await cli(['audit', 'list', '--limit', '3'])).stdout;
    assert.match(table, /SEQ\s+WHEN\s+ACTOR\s+METHOD\s+PATH\s+STATUS/);
    failed(await cli(['audit', 'list', '--since', 'yesterday']), 3, '--since must be');

    const verified = ok(await cli(['audit', 'verify']));
    assert.match(verified.stdout, /OK: \d+ events, chain unbroken; head [0-9a-f]{64}/);
    const v = ok(await cli(['audit', 'verify', '--json'])).json<{ ok: boolean; count: number; head: string }>();
    assert.equal(v.ok, true);
    assert.ok(v.count > 10);

    const file = path.join(scratch, 'audit.ndjson');
    ok(await cli(['audit', 'export', '--path', '/templates', '--out', file]));
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; path: string });
    assert.ok(lines.length >= 3, String(lines.length));
    for (const l of lines) assert.ok(l.path.startsWith('/templates'), l.path);
    for (let i = 1; i < lines.length; i++) assert.ok(lines[i]!.seq > lines[i - 1]!.seq, 'oldest first');
    const streamed = ok(await cli(['audit', 'export', '--path', '/templates'])).stdout.trim().split('\n');
    assert.ok(streamed.length >= lines.length);

    const tail = ok(await cli(['audit', 'tail', '-n', '4']));
    assert.equal(tail.stdout.trim().split('\n').length, 4);
    assert.match(tail.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  #\d+  \S+  [A-Z]+ \/\S*  \d{3}  \d+ms$/m);

    const reader = await t.mintKey({ name: 'reader', role: 'reader' });
    failed(await cli(['audit', 'verify'], { env: { MOLECULE_API_KEY: reader.auth_token } }), 5, REQUEST_ID);
  });

  it('audit tail --follow shows, live, a call made by another CLI invocation (and not its own polling)', async () => {
    const follower = runCliInTerminal(['audit', 'tail', '--follow', '-n', '1'], { env });
    try {
      await follower.waitFor('following (Ctrl-C to stop)');
      ok(await cli(['plugin', 'list']));
      const shown = await follower.waitFor(new RegExp(`org-token:${adminKey.prefix}  GET /plugins  200`));
      const live = shown.slice(shown.indexOf('following (Ctrl-C to stop)'));
      assert.match(live, /GET \/plugins  200/);
      assert.ok(!/GET \/audit/.test(live), `the tail echoed its own polling:\n${live}`);
    } finally {
      follower.kill('SIGINT');
      await follower.done;
    }
  });
});
