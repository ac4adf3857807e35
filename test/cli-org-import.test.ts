// `molecule org import / templates / export` as the real binary against a real tenant: the dry-run plan is always
// shown first; on a terminal the CLI asks before applying (answered here in a real pty), without one it refuses
// unless --yes; a missing required env is exit 7 naming the variables; export round-trips the tree.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, it } from 'node:test';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';
import { runCli, runCliInTerminal, type CliResult } from './support/cli.js';

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

interface Plan {
  dry_run: boolean;
  mode: string;
  plan: { action: string; name: string; path: string; id?: string }[];
  summary: { create: number; skip: number; remove: number };
  preflight: { ok: boolean; missing_env: unknown[] };
}

forEachDatabase('CLI: org import, templates, export', (kind) => {
  // A tenant per test: an org import (reconcile above all) acts on the whole tree, so no test sees another's.
  let t: TestTenant;
  let env: Record<string, string>;
  const scratch = mkdtempSync(path.join(tmpdir(), 'molecule-cli-org-'));
  const cli = (args: string[], input?: string) => runCli(args, { env, ...(input !== undefined ? { input } : {}) });

  async function names(): Promise<string[]> {
    const res = await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.admin() });
    return (res.json() as { name: string }[]).map((w) => w.name).sort();
  }

  beforeEach(async () => {
    t = await startTestTenant(kind, { listen: true });
    const key = await t.mintKey({ name: 'cli org admin' });
    env = { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId, MOLECULE_API_KEY: key.auth_token };
  });

  afterEach(async () => {
    await t.close();
  });

  it('org templates lists the built-in examples', async () => {
    const list = ok(await cli(['org', 'templates', '--json'])).json<{ dir: string; name: string; workspaces: number; source: string }[]>();
    const starter = list.find((x) => x.dir === 'starter');
    assert.ok(starter, JSON.stringify(list));
    assert.equal(starter.source, 'builtin');
    assert.equal(starter.workspaces, 4);
    assert.match(ok(await cli(['org', 'templates'])).stdout, /starter\s+Starter\s+4\s+-\s+builtin/);
  });

  it('without a terminal: shows the plan, then refuses without --yes (exit 3) and creates nothing; --dry-run only plans', async () => {
    const refused = await cli(['org', 'import', '--template', 'starter']);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stdout, /ACTION\s+PATH\s+WORKSPACE/);
    for (const p of ['Lead', 'Lead/Researcher', 'Lead/Writer', 'Lead/Reviewer']) assert.match(refused.stdout, new RegExp(`create\\s+${p}\\s+\\(new\\)`));
    assert.match(refused.stderr, /plan \(merge\): 4 to create, 0 to skip \(already there\), 0 to remove/);
    assert.match(refused.stderr, /not applied: pass --yes/);
    assert.deepEqual(await names(), []);

    const plan = ok(await cli(['org', 'import', '--template', 'starter', '--dry-run', '--json'])).json<Plan>();
    assert.equal(plan.dry_run, true);
    assert.equal(plan.mode, 'merge');
    assert.deepEqual(plan.summary, { create: 4, skip: 0, remove: 0 });
    assert.deepEqual(plan.plan.map((n) => [n.action, n.path]), [['create', 'Lead'], ['create', 'Lead/Researcher'], ['create', 'Lead/Writer'], ['create', 'Lead/Reviewer']]);
    assert.equal(plan.preflight.ok, true);
    assert.deepEqual(await names(), []);

    assert.equal((await cli(['org', 'import'])).code, 3);
    assert.equal((await cli(['org', 'import', '--template', 'starter', '--file', 'x.yaml'])).code, 3);
  });

  it('on a terminal: shows the plan, asks "Apply?", and on Enter creates the tree', async () => {
    const term = runCliInTerminal(['org', 'import', '--template', 'starter'], { env });
    const shown = await term.waitFor('Apply?');
    assert.match(shown, /create\s+Lead\/Writer\s+\(new\)/);
    term.type('\r');
    const done = await term.done;
    assert.equal(done.code, 0, done.stdout);
    assert.match(done.stdout, /imported: 4 created, 0 skipped/);
    assert.match(done.stdout, /created\s+Lead\/Reviewer\s+[0-9a-f-]{36}/);
    assert.deepEqual(await names(), ['Lead', 'Researcher', 'Reviewer', 'Writer']);

    // Again: everything is there, so nothing is asked.
    const again = ok(await cli(['org', 'import', '--template', 'starter']));
    assert.match(again.stdout, /skip\s+Lead\s+[0-9a-f-]{36}/);
    assert.match(again.stdout, /nothing to do/);
  });

  it('a terminal answer of No applies nothing (exit 2)', async () => {
    const file = path.join(scratch, 'declined.yaml');
    writeFileSync(file, 'name: Declined\nworkspaces:\n  - name: Never\n');
    const term = runCliInTerminal(['org', 'import', '--file', file], { env });
    await term.waitFor('Apply?');
    term.type('n');
    term.type('\r');
    const done = await term.done;
    assert.equal(done.code, 2, done.stdout);
    assert.ok(!(await names()).includes('Never'));
  });

  it('--file with --yes applies a local org.yaml; --json gives the created workspaces with their tokens; reconcile removes', async () => {
    ok(await cli(['org', 'import', '--template', 'starter', '--yes']));
    const file = path.join(scratch, 'org.yaml');
    writeFileSync(file, 'name: Side team\nworkspaces:\n  - name: Side\n    children:\n      - name: Helper\n      - name: Extra\n');
    const r = ok(await cli(['org', 'import', '--file', file, '--yes', '--json'])).json<{ created_count: number; skipped_count: number; mode: string; workspaces: { name: string; path: string; auth_token?: string }[] }>();
    assert.equal(r.created_count, 3);
    assert.equal(r.skipped_count, 0);
    assert.equal(r.mode, 'merge');
    assert.deepEqual(r.workspaces.map((w) => w.path), ['Side', 'Side/Helper', 'Side/Extra']);
    for (const w of r.workspaces) assert.match(w.auth_token ?? '', /^molw_/);
    assert.ok((await names()).includes('Helper'));

    // Reconcile removes, under each parent the file names, what it no longer lists — roots included, so the plan
    // shown first is what a person checks.
    writeFileSync(file, 'name: Side team\nworkspaces:\n  - name: Side\n    children:\n      - name: Helper\n');
    const wide = ok(await cli(['org', 'import', '--file', file, '--mode', 'reconcile', '--dry-run']));
    assert.match(wide.stdout, /remove\s+Side\/Extra\s+[0-9a-f-]{36}/);
    assert.match(wide.stdout, /remove\s+Lead\s+[0-9a-f-]{36}/);
    assert.match(wide.stderr, /plan \(reconcile\): 0 to create, 2 to skip \(already there\), 5 to remove/);
    writeFileSync(
      file,
      'name: Both\nworkspaces:\n  - name: Side\n    children:\n      - name: Helper\n  - name: Lead\n    children:\n      - name: Researcher\n      - name: Writer\n      - name: Reviewer\n',
    );
    const applied = ok(await cli(['org', 'import', '--file', file, '--mode', 'reconcile', '--yes']));
    assert.match(applied.stdout, /remove\s+Side\/Extra\s+[0-9a-f-]{36}/);
    assert.match(applied.stderr, /removed Side\/Extra/);
    assert.match(applied.stdout, /imported: 0 created, 6 skipped, 1 removed/);
    assert.ok(!(await names()).includes('Extra'));

    // From stdin too.
    const piped = ok(await cli(['org', 'import', '--file', '-', '--dry-run', '--json'], 'name: Piped\nworkspaces:\n  - name: Side\n')).json<Plan>();
    assert.deepEqual(piped.plan.map((n) => n.action), ['skip']);
  });

  it('declared plugins: the plan and the result show what is installed per workspace and warn about what is skipped', async () => {
    const file = path.join(scratch, 'plugged.yaml');
    writeFileSync(file, 'name: Plugged\nworkspaces:\n  - name: Plugged\n    plugins: [hello-skill, ecc]\n');
    const dry = ok(await cli(['org', 'import', '--file', file, '--dry-run']));
    assert.match(dry.stdout, /PLUGINS/);
    assert.match(dry.stdout, /create\s+Plugged\s+\(new\)\s+-\s+hello-skill/);
    assert.match(dry.stderr, /Plugged: plugin ecc would not be installed — not in the catalog/);
    const applied = ok(await cli(['org', 'import', '--file', file, '--yes']));
    assert.match(applied.stdout, /created\s+Plugged\s+[0-9a-f-]{36}\s+\S+\s+-\s+hello-skill/);
    assert.match(applied.stderr, /Plugged: plugin ecc not installed — not in the catalog/);
  });

  it('a required env that is not an org-wide secret: exit 7 naming it, nothing created; invalid input is the server\'s 400', async () => {
    const file = path.join(scratch, 'needs-env.yaml');
    writeFileSync(file, 'name: Needs env\nrequired_env: [CLI_TEST_MISSING_KEY]\nworkspaces:\n  - name: Gated\n');
    const r = await cli(['org', 'import', '--file', file, '--yes']);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /missing: CLI_TEST_MISSING_KEY/);
    assert.match(r.stderr, /needs org-wide secrets that are not set: CLI_TEST_MISSING_KEY/);
    assert.ok(!(await names()).includes('Gated'));

    writeFileSync(file, 'name: Bad\nworkspaces:\n  - role: no name\n');
    const bad = await cli(['org', 'import', '--file', file, '--yes']);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /\[400 [A-Z_]+\] \(request [\w-]+\)/);
    const unknown = await cli(['org', 'import', '--template', 'no-such-template', '--yes']);
    assert.equal(unknown.code, 6, unknown.stderr);
    assert.match(unknown.stderr, /\[404 ORG_TEMPLATE_NOT_FOUND\] \(request [\w-]+\)/);
  });

  it('org export: YAML to stdout or a file, JSON with --json, and it imports back as all skips', async () => {
    ok(await cli(['org', 'import', '--template', 'starter', '--yes']));
    const side = path.join(scratch, 'side.yaml');
    writeFileSync(side, 'name: Side\nworkspaces:\n  - name: Side\n    children:\n      - name: Helper\n');
    ok(await cli(['org', 'import', '--file', side, '--yes']));
    const yaml = ok(await cli(['org', 'export'])).stdout;
    assert.match(yaml, /name: Lead/);
    assert.match(yaml, /name: Writer/);
    const file = path.join(scratch, 'exported.yaml');
    assert.match(ok(await cli(['org', 'export', '--out', file])).stderr, /wrote the org template \(yaml\)/);
    assert.equal(readFileSync(file, 'utf8'), yaml);
    const json = ok(await cli(['org', 'export', '--json'])).json<{ name: string; workspaces: { name: string }[] }>();
    assert.deepEqual(json.workspaces.map((w) => w.name).sort(), ['Lead', 'Side']);
    const back = ok(await cli(['org', 'import', '--file', file, '--dry-run', '--json'])).json<Plan>();
    assert.equal(back.summary.create, 0);
    assert.ok(back.summary.skip >= 6);
  });
});
