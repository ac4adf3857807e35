/**
 * `molecule org create` end to end against `molecule-platform up` (the real binaries, embedded PostgreSQL, the
 * local-process provisioner): the reseller flow of the README — a partner key minted with the CP admin token, an org
 * created with MOLECULE_PARTNER_KEY in a real pty, the progress bar following the real tenant's boot until it runs —
 * then the org's URL answers through the edge, and `org delete --yes` takes its tenant down.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { startUp, type StartedUp } from './support/binary.js';
import { runCli, runCliInTerminal } from './support/cli.js';
import { descendants, http, killAll, killTenants, within } from './support/platform.js';

describe('molecule org create against molecule-platform up', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'molecule-cli-up-'));
  let up: StartedUp | null = null;
  const orgIds: string[] = [];
  after(async () => {
    if (up) {
      orgIds.push(up.field('Org id'));
      const left = descendants(up.proc.pid!);
      if (up.proc.exitCode === null && up.proc.signalCode === null) {
        up.proc.kill('SIGINT');
        await within(up.exited, 60_000);
      }
      await killAll(left);
      await killTenants(orgIds);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('a partner key creates an org in a terminal: the bar follows the real tenant until it runs; then open and delete', { timeout: 600_000 }, async () => {
    up = await startUp(dir);
    const cpUrl = up.field('Control plane');
    const admin = { MOLECULE_CP_URL: cpUrl, MOLECULE_CP_ADMIN_TOKEN: up.field('CP admin token') };
    const minted = await runCli(['partner-key', 'create', '--partner', 'reseller-e2e', '--scopes', 'orgs:create,orgs:read,orgs:delete,provision:status', '--json'], { env: admin });
    assert.equal(minted.code, 0, minted.stderr);
    const env = { MOLECULE_CP_URL: cpUrl, MOLECULE_PARTNER_KEY: minted.json<{ key: string }>().key };

    const term = runCliInTerminal(['org', 'create', 'cli-e2e', '--name', 'CLI e2e'], { env });
    // The bar's first label is redrawn at once with the server's stage, so wait for a stage, not the label.
    await term.waitFor(/cli-e2e: (launching|starting)/, 120_000);
    const res = await term.done;
    assert.equal(res.code, 0, res.stdout);
    assert.match(res.stdout, /━/, 'the bar is drawn');
    assert.match(res.stdout, /cli-e2e: (launching|starting) — /, 'a stage of the real provisioning is named');
    const port = new URL(cpUrl).port;
    assert.match(res.stdout, new RegExp(`✓ Org cli-e2e is running: http://cli-e2e\\.localhost:${port}`));

    const inspect = await runCli(['org', 'inspect', 'cli-e2e', '--json'], { env });
    assert.equal(inspect.code, 0, inspect.stderr);
    const org = inspect.json<{ id: string; status: string; instance: { url: string } }>();
    orgIds.push(org.id);
    assert.equal(org.status, 'running');
    const open = await runCli(['org', 'open', 'cli-e2e'], { env: { MOLECULE_CP_URL: cpUrl } });
    assert.equal(open.stdout, `http://cli-e2e.localhost:${port}\n`);
    // The URL it printed reaches the new org's own tenant through the edge.
    const health = await http('GET', `http://127.0.0.1:${port}/health`, { host: `cli-e2e.localhost:${port}` });
    assert.equal(health.status, 200, health.text);

    const refused = await runCli(['org', 'delete', 'cli-e2e'], { env });
    assert.equal(refused.code, 3);
    const deleted = await runCli(['org', 'delete', 'cli-e2e', '--yes'], { env });
    assert.equal(deleted.code, 0, deleted.stderr);
    const gone = await runCli(['org', 'status', 'cli-e2e'], { env });
    assert.equal(gone.code, 6, gone.stderr);
  });
});
