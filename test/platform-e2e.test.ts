/**
 * `npm start` (`molecule-platform up`, the real binary) as a new user meets it: the "Getting started" lines of its
 * banner are run verbatim with `sh -c` (the `export …` line first, then each command), and each answer is checked —
 * on the embedded PostgreSQL server `up` brings, and on a real PostgreSQL server (DATABASE_URL).
 *
 * The partner-style lifecycle against `molecule-platform cp` is in platform-lifecycle-*.test.ts (the story in support/platform-lifecycle.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { tenantDatabaseName } from '../src/core/db/tenant-databases.js';
import { POSTGRES_ADMIN_URL, createScratchDatabase } from './harness.js';
import { startUp, type StartedUp } from './support/binary.js';
import { descendants, dropTenantLeftovers, killAll, killTenants, query, tenantProcesses, until, within } from './support/platform.js';

const run = promisify(execFile);

const postgresProblem = await query(POSTGRES_ADMIN_URL, 'select 1').then(
  () => null,
  (err: Error) => err.message,
);

/** The banner's "Getting started" block: the `export CP=…` line and the commands after it, comments dropped. */
export function gettingStarted(banner: string): { exports: string; commands: string[] } {
  const lines = banner.split('\n');
  const start = lines.findIndex((l) => l.trim().startsWith('export CP='));
  assert.ok(start >= 0, `an "export CP=" line in the banner:\n${banner}`);
  const commands: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    if (line.trim().startsWith('#')) continue;
    commands.push(line.trim());
  }
  return { exports: lines[start]!.trim(), commands };
}

/** Runs one printed command after the printed export line, in a fresh `sh -c`, exactly as pasted into a shell. */
async function sh(exports: string, ...commands: string[]): Promise<string> {
  const { stdout } = await run('sh', ['-c', [exports, ...commands].join('\n')], { timeout: 60_000 });
  return stdout;
}

for (const kind of ['embedded', 'postgres'] as const) {
  const skip = kind === 'postgres' && postgresProblem ? `PostgreSQL not reachable (${postgresProblem})` : false;

  describe(`npm start: Getting started, as printed [${kind}]`, { skip }, () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'molecule-getting-started-'));
    let up: StartedUp;
    let orgId = '';
    let dropScratch: () => Promise<void> = async () => undefined;
    let printed: { exports: string; commands: string[] };
    /** The printed commands by what they do (the banner's order is asserted once, below). */
    const cmd = (pattern: RegExp) => {
      const found = printed.commands.filter((c) => pattern.test(c));
      assert.equal(found.length, 1, `exactly one printed command matches ${pattern}: ${JSON.stringify(printed.commands)}`);
      return found[0]!;
    };

    before(async () => {
      const env: Record<string, string> = {};
      if (kind === 'postgres') {
        const scratch = await createScratchDatabase();
        env['DATABASE_URL'] = scratch.url;
        dropScratch = scratch.drop;
      }
      up = await startUp(dir, env);
      orgId = up.field('Org id');
      printed = gettingStarted(up.banner);
    });

    after(async () => {
      const left = [...descendants(up?.proc.pid ?? -1)];
      if (up && up.proc.exitCode === null) {
        up.proc.kill('SIGINT');
        await within(up.exited, 60_000);
      }
      await killAll(left);
      if (orgId) await killTenants([orgId]);
      if (kind === 'postgres' && orgId) await dropTenantLeftovers(POSTGRES_ADMIN_URL, tenantDatabaseName('acme', orgId));
      await dropScratch().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    });

    it('prints every labelled field and the commands in the documented order', () => {
      for (const label of ['Control plane', 'Org tenant', 'CP admin token', 'Org id', 'Org slug', 'Demo owner', 'Demo password', 'Org API key']) {
        assert.notEqual(up.field(label), '', `the banner has "${label}":\n${up.banner}`);
      }
      assert.match(up.field('Control plane'), /^http:\/\/localhost:\d+$/);
      const port = new URL(up.field('Control plane')).port;
      assert.equal(up.field('Org tenant'), `http://acme.localhost:${port}`);
      assert.match(up.field('CP admin token'), /^cpadm_/);
      assert.match(orgId, /^[0-9a-f-]{36}$/);
      assert.equal(up.field('Org slug'), 'acme');
      assert.match(up.field('Org API key'), /^mola_/);
      assert.match(up.banner, kind === 'embedded' ? /embedded PostgreSQL server/ : /running on DATABASE_URL/);
      assert.equal(printed.commands.length, 7, JSON.stringify(printed.commands, null, 2));
      assert.match(printed.commands[0]!, /^export TENANT_ADMIN=/);
      assert.match(printed.commands[1]!, /org\/tokens .*TENANT_ADMIN/);
      assert.match(printed.commands[2]!, /\/instance$/);
      assert.match(printed.commands[6]!, /%\{http_code\}/);
      assert.equal(tenantProcesses(orgId).length, 1, 'one tenant process serves the demo org');
    });

    it('the instance lookup says running, the list is a JSON array, the workspace is created and goes online, revoke makes the next call 401', async () => {
      const instance = JSON.parse(await sh(printed.exports, cmd(/\/api\/v1\/orgs\/acme\/instance$/))) as Record<string, unknown>;
      assert.equal(instance['slug'], 'acme', JSON.stringify(instance));
      assert.equal(instance['org_id'], orgId);
      assert.equal(instance['status'], 'running');
      assert.equal(instance['instance_status'], 'running');
      assert.equal(instance['url'], up.field('Org tenant'));

      const listCommand = cmd(/^curl -s \$TENANT\/workspaces -H/);
      const listed = JSON.parse(await sh(printed.exports, listCommand)) as unknown;
      assert.ok(Array.isArray(listed), `the list is a JSON array: ${JSON.stringify(listed)}`);

      const created = JSON.parse(await sh(printed.exports, cmd(/-X POST \$TENANT\/workspaces/))) as { id?: string; name?: string };
      assert.equal(created.name, 'my-agent', JSON.stringify(created));
      assert.ok(created.id, JSON.stringify(created));
      // "watch it go online with the list above": the very same printed command, polled.
      await until(
        'the workspace goes online',
        async () => {
          const list = JSON.parse(await sh(printed.exports, listCommand)) as Array<{ id: string; status: string }>;
          return list.find((w) => w.id === created.id)?.status === 'online' || undefined;
        },
        120_000,
        250,
      );

      const revoked = JSON.parse(await sh(printed.exports, cmd(/-X DELETE \$TENANT\/org\/tokens\//))) as { revoked?: string };
      assert.match(String(revoked.revoked), /^tok_/, JSON.stringify(revoked));
      assert.equal((await sh(printed.exports, cmd(/%\{http_code\}/))).trim(), '401', 'the revoked key is refused on the next request');
    });

    it('TENANT_ADMIN: the admin token fetched through the CP admin API mints an Org API Key', async () => {
      const minted = JSON.parse(await sh(printed.exports, cmd(/^export TENANT_ADMIN=/), cmd(/org\/tokens .*TENANT_ADMIN/))) as { id?: string; auth_token?: string; name?: string };
      assert.match(String(minted.auth_token), /^mola_/, JSON.stringify(minted));
      assert.equal(minted.name, 'my-first-key');
      // The minted key works like the printed one did.
      const works = await sh(`${printed.exports} KEY=${minted.auth_token}`, cmd(/%\{http_code\}/));
      assert.equal(works.trim(), '200');
    });
  });
}
