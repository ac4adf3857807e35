/**
 * The embedded PostgreSQL server (src/core/db/embedded-server.ts) on real clusters in temp directories: initdb once,
 * restarts keep the data and the port, a crashed or orphaned server is recovered from, and only the generated
 * password gets in.
 */
import assert from 'node:assert/strict';
import { alive } from './support/binary.js';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { EmbeddedPostgresServer, accepting } from '../src/core/db/embedded-server.js';

const dirs: string[] = [];
const servers: EmbeddedPostgresServer[] = [];
after(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'molecule-embedded-server-'));
  dirs.push(dir);
  return dir;
}

async function start(dataDir: string): Promise<EmbeddedPostgresServer> {
  const s = await EmbeddedPostgresServer.start({ dataDir });
  servers.push(s);
  return s;
}

async function query(url: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}


async function until(what: string, cond: () => boolean | Promise<boolean>, deadlineMs = 30_000) {
  const deadline = Date.now() + deadlineMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('embedded PostgreSQL server', () => {
  test('initialises once, creates a database, and a restart keeps its rows and its port', async () => {
    const dataDir = tempDataDir();
    const first = await start(dataDir);
    assert.equal(typeof first.timings.initdbMs, 'number', 'the first start runs initdb');
    const url = await first.ensureDatabase('tenant_demo');
    assert.equal(await first.ensureDatabase('tenant_demo'), url, 'ensureDatabase is idempotent');
    await query(url, 'create table t (v text)');
    await query(url, 'insert into t values ($1)', ['written before the restart']);
    const { port, pid } = first;
    await first.stop();
    assert.equal(first.pid, undefined);
    assert.equal(alive(pid!), false, 'the postmaster is gone after stop()');
    assert.equal(await accepting(url), false);

    const second = await start(dataDir);
    assert.equal(second.timings.initdbMs, undefined, 'a later start does not run initdb');
    assert.equal(second.port, port, 'the recorded port is reused when free');
    const rows = await query(await second.ensureDatabase('tenant_demo'), 'select v from t');
    assert.deepEqual(rows.rows, [{ v: 'written before the restart' }]);
    await second.stop();
  });

  test('as root: a parent its OS user cannot enter is named in the error; once it can, the server starts', { skip: process.getuid?.() !== 0 ? 'the server runs as its own OS user only under root' : false }, async () => {
    const parent = tempDataDir(); // mkdtemp: 0700, root's own
    const dataDir = path.join(parent, 'data');
    await assert.rejects(start(dataDir), (err: Error) => {
      assert.match(err.message, new RegExp(`cannot enter ${parent.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(mode 700\\)`));
      assert.match(err.message, /chmod o\+x/);
      return true;
    });
    chmodSync(parent, 0o711);
    const server = await start(dataDir);
    assert.equal(await accepting(server.url('postgres')), true);
    await server.stop();
  });

  test('recovers after the postmaster is killed with SIGKILL', async () => {
    const dataDir = tempDataDir();
    const first = await start(dataDir);
    const url = await first.ensureDatabase('crashy');
    await query(url, 'create table t (v int)');
    await query(url, 'insert into t values (42)');
    const pid = first.pid!;
    process.kill(pid, 'SIGKILL');
    await until('the killed postmaster to exit', () => first.pid === undefined);

    const second = await start(dataDir);
    assert.deepEqual((await query(second.url('crashy'), 'select v from t')).rows, [{ v: 42 }]);
    await second.stop();
  });

  test('a server left running by a killed launcher is stopped and the cluster started again', async () => {
    const dataDir = tempDataDir();
    const orphan = await start(dataDir);
    const orphanPid = orphan.pid!;
    await query(await orphan.ensureDatabase('kept'), 'create table t (v int)');
    // A second launcher on the same data directory: what `npm start` sees after the first was kill -9ed.
    const next = await start(dataDir);
    assert.equal(alive(orphanPid), false, 'the orphaned postmaster was stopped');
    assert.notEqual(next.pid, orphanPid);
    assert.deepEqual((await query(next.url('kept'), 'select count(*)::int as n from t')).rows, [{ n: 0 }]);
    await next.stop();
  });

  test('a postmaster.pid naming a live process that is not a server of this cluster (a reused pid) is stale', async () => {
    const dataDir = tempDataDir();
    const first = await start(dataDir);
    const url = await first.ensureDatabase('reused');
    await first.stop();
    // After a reboot the pid in the lock file may belong to anything: here a live process of the server's own OS user
    // (PostgreSQL itself takes a pid it may not signal for a dead owner, so only the same user's is ambiguous to it).
    const asUser = process.getuid?.() === 0 ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) } : {};
    const stranger = spawn('sleep', ['600'], { stdio: 'ignore', ...asUser });
    try {
      const lock = path.join(dataDir, 'pg', 'data', 'postmaster.pid');
      writeFileSync(lock, `${stranger.pid}\n${path.join(dataDir, 'pg', 'data')}\n`);
      const second = await start(dataDir);
      assert.equal(await accepting(url), true);
      assert.equal(alive(stranger.pid!), true, 'the unrelated process was left alone');
      await second.stop();
    } finally {
      stranger.kill('SIGKILL');
    }
  });

  test('only the generated password gets in; it is kept owner-only', async () => {
    const dataDir = tempDataDir();
    const s = await start(dataDir);
    const passwordFile = path.join(dataDir, 'pg', 'password');
    assert.equal(statSync(passwordFile).mode & 0o777, 0o600);
    const hba = readFileSync(path.join(dataDir, 'pg', 'data', 'pg_hba.conf'), 'utf8');
    assert.doesNotMatch(hba.replace(/#.*$/gm, ''), /\btrust\b/, 'no trust lines');
    const base = `postgres://postgres@127.0.0.1:${s.port}/postgres`;
    for (const url of [`postgres://postgres:wrong@127.0.0.1:${s.port}/postgres`, base]) {
      const client = new pg.Client({ connectionString: url, password: url === base ? '' : undefined });
      client.on('error', () => undefined);
      await assert.rejects(client.connect(), (err: Error & { code?: string }) => {
        assert.ok(err.code === '28P01' || /password/i.test(err.message), `refused for the password: ${err.message}`);
        return true;
      });
      await client.end().catch(() => undefined);
    }
    assert.equal(await accepting(s.adminUrl), true);
    await s.stop();
  });

  test('database names are validated; dropDatabase removes one', async () => {
    const s = await start(tempDataDir());
    for (const bad of ['', 'Tenant', 'a-b', 'x"; drop database postgres; --', 'a'.repeat(64), '1abc']) {
      await assert.rejects(s.ensureDatabase(bad), /invalid database name/);
      await assert.rejects(s.dropDatabase(bad), /invalid database name/);
    }
    await s.ensureDatabase('gone_soon');
    await s.dropDatabase('gone_soon');
    const rows = await query(s.adminUrl, 'select datname from pg_database where datname = $1', ['gone_soon']);
    assert.equal(rows.rowCount, 0);
    await s.dropDatabase('gone_soon'); // absent: nothing to do
    await s.stop();
  });
});
