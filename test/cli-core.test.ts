/**
 * The `molecule` CLI's core, run as the real binary: global behaviour (version, help, usage errors and their exit
 * code, JSON errors), `molecule api` against a real tenant, `platform health`, and shell completion through a real
 * bash.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';
import { CLI, runCli } from './support/cli.js';

describe('molecule: global behaviour', () => {
  it('--version prints the package version; --help lists the exit codes and examples', async () => {
    const version = await runCli(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit codes: 0 ok, 1 error, 2 cancelled, 3 usage, 4 unauthenticated/);
    assert.match(help.stdout, /Examples:\n {2}\$ /);
  });

  it('an unknown command or option is a usage error (exit 3), as prose or, under --json, as JSON on stderr', async () => {
    const prose = await runCli(['no-such-command']);
    assert.equal(prose.code, 3);
    assert.match(prose.stderr, /unknown command 'no-such-command'/);
    const json = await runCli(['--json', 'api', 'GET']);
    assert.equal(json.code, 3);
    const err = JSON.parse(json.stderr.trim()) as { code: string; message: string; exit_code: number };
    assert.equal(err.code, 'USAGE');
    assert.match(err.message, /missing required argument 'path'/);
    assert.equal(err.exit_code, 3);
  });

  it('says what to set when no org or no credential is configured', async () => {
    const noOrg = await runCli(['api', 'GET', '/workspaces', '--json']);
    assert.equal(noOrg.code, 3);
    assert.equal(JSON.parse(noOrg.stderr).code, 'NO_ORG');
    const noKey = await runCli(['api', 'GET', '/workspaces'], { env: { MOLECULE_API_URL: 'http://127.0.0.1:9' } });
    assert.equal(noKey.code, 4);
    assert.match(noKey.stderr, /not signed in to an org: set MOLECULE_API_KEY/);
  });

  it('prints completion scripts, and the bash one completes commands through a real bash', async () => {
    const bash = await runCli(['completion', 'bash']);
    assert.equal(bash.code, 0);
    assert.match(bash.stdout, /complete -o default -F _molecule_complete molecule/);
    for (const shell of ['zsh', 'fish']) assert.equal((await runCli(['completion', shell])).code, 0, shell);
    const bad = await runCli(['completion', 'tcsh']);
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /unknown shell "tcsh"/);

    const binDir = mkdtempSync(path.join(tmpdir(), 'molecule-bin-'));
    symlinkSync(CLI, path.join(binDir, 'molecule'));
    const script = `eval "$(molecule completion bash)"; COMP_WORDS=(molecule plat); COMP_CWORD=1; _molecule_complete; echo "1:\${COMPREPLY[*]}"; COMP_WORDS=(molecule platform ""); COMP_CWORD=2; _molecule_complete; echo "2:\${COMPREPLY[*]}"; COMP_WORDS=(molecule api --pag); COMP_CWORD=2; _molecule_complete; echo "3:\${COMPREPLY[*]}"`;
    const run = spawnSync('bash', ['-c', script], { env: { PATH: `${binDir}:${process.env['PATH']}`, HOME: process.env['HOME'] ?? '' }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^1:platform$/m);
    assert.match(run.stdout, /^2:health$/m);
    assert.match(run.stdout, /^3:--paginate$/m);
  });
});

forEachDatabase('molecule api and platform health against a real tenant', (kind) => {
  let t: TestTenant;
  let env: Record<string, string>;
  before(async () => {
    t = await startTestTenant(kind, { listen: true });
    const key = await t.mintKey({ name: 'cli-core', role: 'admin' });
    env = { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId, MOLECULE_API_KEY: key.auth_token };
  });
  after(() => t.close());

  it('GET prints the JSON body; POST with fields creates; the created workspace is there', async () => {
    const created = await runCli(['api', 'POST', '/workspaces', '-f', 'name=from-api', '-F', 'tier=2', '--json'], { env });
    assert.equal(created.code, 0, created.stderr);
    const ws = created.json<{ id: string; name: string }>();
    assert.equal(ws.name, 'from-api');
    const got = await runCli(['api', 'GET', `/workspaces/${ws.id}`, '--json'], { env });
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.json<{ tier: number }>().tier, 2);
    const list = await runCli(['api', 'get', '/workspaces'], { env });
    assert.ok(list.json<Array<{ id: string }>>().some((w) => w.id === ws.id));
  });

  it('--input - sends stdin as the body', async () => {
    const res = await runCli(['api', 'POST', '/workspaces', '--input', '-', '--json'], { env, input: JSON.stringify({ name: 'from-stdin' }) });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.json<{ name: string }>().name, 'from-stdin');
  });

  it('--paginate follows next_cursor and joins the pages', async () => {
    for (let i = 0; i < 3; i++) await t.createWorkspace();
    const one = await runCli(['api', 'GET', '/audit?limit=2', '--json'], { env });
    assert.equal(one.json<{ events: unknown[] }>().events.length, 2);
    const all = await runCli(['api', 'GET', '/audit?limit=2', '--paginate', '--json'], { env });
    assert.equal(all.code, 0, all.stderr);
    const joined = all.json<{ events: Array<{ seq: number }>; next_cursor: unknown; count: number }>();
    assert.ok(joined.events.length > 2, `joined ${joined.events.length} events`);
    assert.equal(joined.count, joined.events.length);
    assert.equal(joined.next_cursor, null);
    assert.equal(new Set(joined.events.map((e) => e.seq)).size, joined.events.length, 'no event twice');
  });

  it('errors print the server message and request id, with the exit code of the status', async () => {
    const missing = await runCli(['api', 'GET', '/workspaces/00000000-0000-4000-8000-000000000000'], { env });
    assert.equal(missing.code, 6);
    assert.match(missing.stderr, /error: workspace not found \[404 WORKSPACE_NOT_FOUND\] \(request [^)]+\)/);
    const asJson = await runCli(['api', 'GET', '/workspaces/not-a-uuid', '--json'], { env });
    assert.equal(asJson.code, 1);
    const err = JSON.parse(asJson.stderr.trim()) as { code: string; message: string; request_id: string; status: number };
    assert.equal(err.status, 400);
    assert.match(err.request_id, /.+/);
    const wrongKey = await runCli(['api', 'GET', '/workspaces'], { env: { ...env, MOLECULE_API_KEY: 'molk_not_a_real_key' } });
    assert.equal(wrongKey.code, 4);
    const reader = await t.mintKey({ name: 'reader', role: 'reader' });
    const forbidden = await runCli(['api', 'POST', '/workspaces', '-f', 'name=nope'], { env: { ...env, MOLECULE_API_KEY: reader.auth_token } });
    assert.equal(forbidden.code, 5, forbidden.stderr);
    const badMethod = await runCli(['api', 'FETCH', '/workspaces'], { env });
    assert.equal(badMethod.code, 3);
  });

  it('platform health answers from the org (the reference CLI verb, -o json)', async () => {
    const res = await runCli(['platform', 'health', '-o', 'json'], { env });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.json<{ status: string }>().status, 'ok');
    const human = await runCli(['platform', 'health'], { env });
    assert.match(human.stdout, /service\s+tenant/);
  });
});
