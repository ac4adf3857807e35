/**
 * `npm start` (`molecule-platform up`, the real binary): the platform banner names the control plane, the demo org's
 * tenant, the CP admin token, the org, the demo owner and a working Org API Key, and logs none of the secrets; Ctrl-C
 * stops everything it started; the next start on the same data is the same platform (same org, CP admin token and
 * demo password), retires the previous demo key and mints a new one — and is fast (the time is printed, not asserted).
 *
 * (It was the "npm start" describe of e2e-process.test.ts; a file of its own keeps both within npm test's per-file
 * timeout.) Ctrl-C with workspaces and the postmaster, and kill -9 of the launcher: up-embedded-pg.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { startUp, type StartedUp } from './support/binary.js';
import { descendants, http, killAll, killTenants, stillRunning, tenantProcesses, until, within } from './support/platform.js';

describe('npm start (molecule-platform up)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'molecule-up-'));
  const launched: StartedUp[] = [];
  after(async () => {
    for (const u of launched) {
      const orgId = u.field('Org id');
      const left = [...descendants(u.proc.pid!), ...tenantProcesses(orgId)];
      if (u.proc.exitCode === null && u.proc.signalCode === null) {
        u.proc.kill('SIGINT');
        await within(u.exited, 60_000);
      }
      await killAll(left);
      await killTenants([orgId]);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** The demo org's tenant through the edge, as the banner's curl lines reach it (`acme.localhost:<port>`). */
  const onTenant = (u: StartedUp, p: string, key: string) => {
    const port = new URL(u.field('Control plane')).port;
    return http('GET', `http://127.0.0.1:${port}${p}`, { host: `acme.localhost:${port}`, headers: { authorization: `Bearer ${key}`, 'x-molecule-org-id': u.field('Org id') } });
  };
  /** Ctrl-C; every process it started (its own tree, the detached tenant, the postmaster) is gone afterwards. */
  async function ctrlC(u: StartedUp) {
    const started = [...descendants(u.proc.pid!), ...tenantProcesses(u.field('Org id'))];
    u.proc.kill('SIGINT');
    assert.equal(await u.exited, 0, u.out());
    await until('every process it started is gone', () => started.every((p) => !stillRunning(p)) || undefined, 60_000, 50);
  }

  it('prints the platform banner with a working org key; the next start reuses the org and tokens, retires the old key, and is fast', async (t) => {
    const first = await startUp(dir);
    launched.push(first);
    for (const label of ['Control plane', 'Org tenant', 'CP admin token', 'Org id', 'Org slug', 'Demo owner', 'Demo password', 'Org API key']) {
      assert.notEqual(first.field(label), '', `the banner has "${label}":\n${first.banner}`);
    }
    const port = new URL(first.field('Control plane')).port;
    assert.equal(first.field('Org tenant'), `http://acme.localhost:${port}`);
    assert.equal(first.field('Org slug'), 'acme');
    assert.equal(first.field('Demo owner'), 'owner@acme.example');
    assert.match(first.field('CP admin token'), /^cpadm_/);
    assert.match(first.field('Org API key'), /^mola_/);
    assert.equal((await onTenant(first, '/workspaces', first.field('Org API key'))).status, 200);
    // The CP admin token is one: the org is listed with it.
    const orgs = await http('GET', `http://127.0.0.1:${port}/api/v1/admin/orgs`, { headers: { authorization: `Bearer ${first.field('CP admin token')}` } });
    assert.equal(orgs.status, 200, orgs.text);
    assert.match(orgs.text, new RegExp(first.field('Org id')));
    // No secret in what it logged besides the banner itself.
    const logged = first.out().slice(0, first.out().indexOf('Molecule Platform is running'));
    for (const label of ['CP admin token', 'Demo password', 'Org API key']) assert.equal(logged.includes(first.field(label)), false, `${label} in the log`);
    await ctrlC(first);

    const t0 = Date.now();
    const second = await startUp(dir);
    launched.push(second);
    t.diagnostic(`second start (reusing the data): banner after ${Date.now() - t0} ms`);
    assert.equal(second.field('Org id'), first.field('Org id'), 'the demo org survives a restart');
    assert.equal(second.field('CP admin token'), first.field('CP admin token'), 'the CP admin token is remembered');
    assert.equal(second.field('Demo password'), first.field('Demo password'), 'the demo owner keeps its password');
    assert.notEqual(second.field('Org API key'), first.field('Org API key'), 'a fresh demo key per start');
    assert.equal((await onTenant(second, '/workspaces', first.field('Org API key'))).status, 401, 'the previous demo key is retired');
    assert.equal((await onTenant(second, '/workspaces', second.field('Org API key'))).status, 200);
    await ctrlC(second);
  });
});
