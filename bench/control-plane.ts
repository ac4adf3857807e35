import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import pg from 'pg';
import { createBenchDatabase } from './database.js';
import { hashPassword } from '../src/control-plane/auth/passwords.js';
import { mintCredential } from '../src/core/credentials/format.js';
import { ID_PREFIXES, ulid } from '../src/core/ids.js';
import type { InterleavedLoadContext } from './interleaved.js';
import { type LoadSummary } from './protocol.js';
import { fmt, interleavedRatio, rate, type InterleavedRatio } from './stats.js';
import { freePort, spawnControlPlane, type ServerProcess } from './tenant-process.js';

/**
 * The control plane's part of `npm run bench` (called by bench/run.ts after the tenant's scenarios), in the same
 * style: one real `molecule-platform cp` child process on its own fresh PostgreSQL database, seeded, then loaded by
 * autocannon in a separate process. Five scenarios:
 *   1. GET /health                                   — the floor: HTTP, routing, hooks, no credential, no database
 *   2. GET /api/v1/auth/tenant-member?slug=, cookie  — every tenant's tier-1 session check: session + membership lookup
 *   3. GET /api/v1/orgs, cookie                      — the session lookup + the caller's orgs
 *   4. GET /api/v1/admin/orgs?limit=50, CP admin     — the operator's org list, with member counts
 *   5. POST /api/v1/auth/login, right password       — scrypt at the production cost: CPU-bound, few connections
 * 1, 2 and 3 are measured interleaved in rounds ordered 2 1 3 then 3 1 2 (ABBA for both ratios, 2 / 1 and 3 / 1,
 * whose pairs are adjacent in every round and swap order every round); 4 and 5 are one window each, in no ratio.
 */

/** What run.ts lends this part: its settings, its cleanup, its load runner and its formatting. */
export interface ControlPlaneBenchContext extends InterleavedLoadContext {
  bin: string;
  host: string;
  adminDatabaseUrl: string;
  durationSeconds: number;
  cleanup: { add(name: string, fn: () => Promise<void>): void };
}

export interface ControlPlaneWindow {
  round: number;
  position: number;
  measured: LoadSummary;
  warmup: LoadSummary | null;
}

export interface ControlPlaneScenario {
  id: number;
  name: string;
  request: string;
  credential: 'none' | 'session' | 'cp-admin';
  connections: number;
  responseBodyBytes: number;
  measured: LoadSummary;
  warmup: LoadSummary | null;
  /** Interleaved scenarios (1, 2, 3): one window per round, in round order. */
  windows: ControlPlaneWindow[] | null;
}

export type ControlPlaneRatio = InterleavedRatio;

export interface ControlPlaneSeed {
  viaApi: string[];
  viaSql: { users: number; orgs: number; orgMembers: number; orgInstances: number; sessions: { live: number; expired: number; revoked: number } };
  apiSeconds: number;
  sqlSeconds: number;
  /** Rows and bytes (table + indexes) per table once seeded and analyzed, before any load. */
  tables: Record<string, { rows: number; bytes: number }>;
}

export interface ControlPlaneFigures {
  database: string;
  env: Record<string, string>;
  passwordHashCost: number;
  seed: ControlPlaneSeed;
  primeSeconds: number;
  rounds: number;
  windowSeconds: number;
  roundOrder: number[][];
  scenarios: ControlPlaneScenario[];
  ratios: ControlPlaneRatio[];
  measuringSeconds: number;
  warnings: string[];
  notes: string[];
}

const SEED_USERS = 2_000;
const SEED_ORGS = 1_000;
/** Per seeded user: a year of sign-ins at a 7-day TTL leaves mostly expired rows; nothing deletes them. */
const SESSIONS_PER_USER = { live: 2, expired: 6, revoked: 2 } as const;
const MAX_EXTRA_MEMBERS = 5; // per seeded org, besides its owner: 0–5, uniformly
/** Seeded orgs the benchmark's member also belongs to, so GET /orgs returns a realistic handful. */
const MEMBER_SEEDED_ORGS = 4;
const ADMIN_LIST_LIMIT = 50;
const PRIME_SECONDS = 4; // per session scenario (2 and 3), before the rounds
const WARMUP_SECONDS = 2; // scenario 4
/** Scenario 5: the preflight sign-in already ran the path once, and a hash costs the same the first time as the last. */
const LOGIN_WARMUP_SECONDS = 1;
const LOGIN_CONNECTIONS = 4;
const BENCH_SLUG = 'bench-org';
const DAY_MS = 86_400_000;


interface HttpResult {
  status: number;
  text: string;
  setCookie: string[];
}

async function http(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body?: unknown): Promise<HttpResult> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, text: await res.text(), setCookie: res.headers.getSetCookie() };
}

/** The call must answer `status`; returns the parsed body. */
async function expectJson(what: string, expected: number, res: Promise<HttpResult>): Promise<Record<string, unknown> & { cookie: string | null }> {
  const r = await res;
  if (r.status !== expected) throw new Error(`${what} answered ${r.status}, expected ${expected}: ${r.text.slice(0, 300)}`);
  const body: unknown = JSON.parse(r.text);
  if (typeof body !== 'object' || body === null) throw new Error(`${what} answered a non-object: ${r.text.slice(0, 300)}`);
  const cookie = r.setCookie.find((c) => c.startsWith('mcp_session='))?.split(';')[0] ?? null;
  return { ...(body as Record<string, unknown>), cookie };
}

// ---------------------------------------------------------------------------------------------------------------
// Seeding

interface Person {
  userId: string;
  email: string;
  password: string;
  cookie: string;
}

async function signup(baseUrl: string, label: string): Promise<Person> {
  const email = `${label}-${randomBytes(4).toString('hex')}@bench.example`;
  const password = `bench-${randomBytes(12).toString('base64url')}`;
  const res = await expectJson(`signup (${label})`, 201, http('POST', `${baseUrl}/api/v1/auth/signup`, {}, { email, password, name: `Bench ${label}` }));
  if (typeof res['user_id'] !== 'string' || !res.cookie) throw new Error(`signup (${label}) returned no user id or no session cookie`);
  return { userId: res['user_id'], email, password, cookie: res.cookie };
}

/**
 * Through the real HTTP API: an owner signs up, accepts the terms and creates the benchmark's org; a second user
 * signs up and joins it through an invitation. The member's session is the one every session scenario presents.
 */
async function seedThroughApi(baseUrl: string): Promise<{ owner: Person; member: Person }> {
  const owner = await signup(baseUrl, 'owner');
  await expectJson('accept-terms', 200, http('POST', `${baseUrl}/api/v1/auth/accept-terms`, { cookie: owner.cookie }, {}));
  await expectJson('create org', 201, http('POST', `${baseUrl}/api/v1/orgs`, { cookie: owner.cookie }, { slug: BENCH_SLUG, name: 'Bench Org' }));
  const member = await signup(baseUrl, 'member');
  const invitation = await expectJson(
    'invite',
    201,
    // Not bound to the member's address: an email-bound invitation needs a verified address, and verification is
    // not what this benchmark measures.
    http('POST', `${baseUrl}/api/v1/orgs/${BENCH_SLUG}/members/invitations`, { cookie: owner.cookie }, { role: 'member' }),
  );
  const accepted = await expectJson('accept invitation', 200, http('POST', `${baseUrl}/api/v1/invitations/accept`, { cookie: member.cookie }, { token: invitation['invite_token'] }));
  if (accepted['role'] !== 'member') throw new Error(`accepting the invitation gave role ${String(accepted['role'])}`);
  return { owner, member };
}

function between(from: number, to: number): Date {
  return new Date(from + Math.random() * Math.max(0, to - from));
}

const idAt = (prefix: string, at: Date) => prefix + ulid(at.getTime());

/** Inserts column arrays with one `unnest` per batch: row i is every array's i-th element. */
async function insertColumns(client: pg.Client, table: string, columns: Record<string, { type: string; values: unknown[] }>, batchSize = 5_000) {
  const names = Object.keys(columns);
  const total = columns[names[0]!]!.values.length;
  const sql = `insert into ${table} (${names.join(', ')}) select * from unnest(${names.map((n, i) => `$${i + 1}::${columns[n]!.type}[]`).join(', ')})`;
  for (let from = 0; from < total; from += batchSize) {
    await client.query(sql, names.map((n) => columns[n]!.values.slice(from, from + batchSize)));
  }
}

interface SqlSeedResult {
  users: number;
  orgs: number;
  orgMembers: number;
  sessions: { live: number; expired: number; revoked: number };
  /** One plaintext cookie value of each kind, to prove the seeded rows behave as labelled. */
  samples: { live: string; expired: string; revoked: string };
}

/**
 * A platform a year into production, straight into PostgreSQL: SEED_USERS users with their sessions (mostly expired,
 * some revoked), SEED_ORGS orgs with an owner, 0–5 more members and an instance row each. All rows are older than the
 * API-created ones. The benchmark's member is added to MEMBER_SEEDED_ORGS of them. Ids, hashes and cookie values have
 * the production formats (ULIDs at their creation time, sha256 of minted session credentials).
 */
async function seedControlPlaneTables(client: pg.Client, opts: { memberUserId: string; passwordHash: string }): Promise<SqlSeedResult> {
  const now = Date.now();
  const yearAgo = now - 365 * DAY_MS;
  const seededBefore = now - 60_000;

  const users = Array.from({ length: SEED_USERS }, (_, i) => {
    const created = between(yearAgo, seededBefore - 30 * DAY_MS);
    return { id: idAt(ID_PREFIXES.user, created), email: `seed-${String(i).padStart(5, '0')}@bench.example`, created };
  });
  await client.query('begin');
  await insertColumns(client, 'users', {
    id: { type: 'text', values: users.map((u) => u.id) },
    email: { type: 'text', values: users.map((u) => u.email) },
    name: { type: 'text', values: users.map((_, i) => `Seeded user ${i}`) },
    // One real scrypt hash for all: these accounts are never signed in to, and 2,000 hashes at cost 15 take minutes.
    password_hash: { type: 'text', values: users.map(() => opts.passwordHash) },
    terms_version: { type: 'text', values: users.map(() => null) },
    created_at: { type: 'timestamptz', values: users.map((u) => u.created) },
    updated_at: { type: 'timestamptz', values: users.map((u) => u.created) },
  });

  const sessions: { id: string; hash: string; userId: string; created: Date; expires: Date; revoked: Date | null }[] = [];
  const samples: Partial<SqlSeedResult['samples']> = {};
  for (const u of users) {
    for (const kind of ['live', 'expired', 'revoked'] as const) {
      for (let k = 0; k < SESSIONS_PER_USER[kind]; k++) {
        const minted = mintCredential('session');
        const created = kind === 'live' ? between(now - 6 * DAY_MS, seededBefore) : between(Math.max(u.created.getTime(), yearAgo), now - 8 * DAY_MS);
        const expires = new Date(created.getTime() + 7 * DAY_MS);
        const revoked = kind === 'revoked' ? between(created.getTime(), expires.getTime()) : null;
        sessions.push({ id: idAt(ID_PREFIXES.session, created), hash: minted.hash, userId: u.id, created, expires, revoked });
        samples[kind] ??= minted.plaintext;
      }
    }
  }
  await insertColumns(client, 'sessions', {
    id: { type: 'text', values: sessions.map((s) => s.id) },
    token_hash: { type: 'text', values: sessions.map((s) => s.hash) },
    user_id: { type: 'text', values: sessions.map((s) => s.userId) },
    created_at: { type: 'timestamptz', values: sessions.map((s) => s.created) },
    expires_at: { type: 'timestamptz', values: sessions.map((s) => s.expires) },
    revoked_at: { type: 'timestamptz', values: sessions.map((s) => s.revoked) },
    client_ip: { type: 'text', values: sessions.map(() => '127.0.0.1') },
  });

  const plans = ['free', 'free', 'free', 'free', 'starter', 'pro'] as const;
  const orgs = Array.from({ length: SEED_ORGS }, (_, i) => {
    const owner = users[randomInt(users.length)]!;
    const created = between(owner.created.getTime(), seededBefore - DAY_MS);
    // Mostly running; a few failed or still provisioning, as a fleet has.
    const r = Math.random();
    const status = r < 0.9 ? 'running' : r < 0.95 ? 'failed' : 'provisioning';
    return { id: randomUUID(), slug: `seed-org-${String(i).padStart(4, '0')}`, owner, created, status, plan: plans[randomInt(plans.length)]! };
  });
  await insertColumns(client, 'organizations', {
    id: { type: 'uuid', values: orgs.map((o) => o.id) },
    slug: { type: 'text', values: orgs.map((o) => o.slug) },
    name: { type: 'text', values: orgs.map((o) => `Seeded org ${o.slug.slice(9)}`) },
    plan: { type: 'text', values: orgs.map((o) => o.plan) },
    status: { type: 'text', values: orgs.map((o) => o.status) },
    last_error: { type: 'text', values: orgs.map((o) => (o.status === 'failed' ? 'tenant did not become healthy within 240 s' : null)) },
    created_by: { type: 'text', values: orgs.map((o) => `session:${o.owner.id}`) },
    created_at: { type: 'timestamptz', values: orgs.map((o) => o.created) },
    updated_at: { type: 'timestamptz', values: orgs.map((o) => o.created) },
  });
  await insertColumns(client, 'org_instances', {
    org_id: { type: 'uuid', values: orgs.map((o) => o.id) },
    status: { type: 'text', values: orgs.map((o) => o.status) },
    stage: { type: 'text', values: orgs.map((o) => (o.status === 'running' ? 'ready' : o.status === 'failed' ? 'failed' : 'launching')) },
    progress: { type: 'int4', values: orgs.map((o) => (o.status === 'running' ? 100 : 0)) },
    message: { type: 'text', values: orgs.map((o) => (o.status === 'running' ? 'running' : 'queued')) },
    eta_seconds: { type: 'int4', values: orgs.map(() => 0) },
    url: { type: 'text', values: orgs.map((o) => (o.status === 'running' ? `https://${o.slug}.bench.example` : null)) },
    last_error: { type: 'text', values: orgs.map((o) => (o.status === 'failed' ? 'tenant did not become healthy within 240 s' : null)) },
    created_at: { type: 'timestamptz', values: orgs.map((o) => o.created) },
    updated_at: { type: 'timestamptz', values: orgs.map((o) => o.created) },
  });

  const members: { orgId: string; userId: string; role: string; invitedBy: string | null; created: Date }[] = [];
  for (const [i, o] of orgs.entries()) {
    members.push({ orgId: o.id, userId: o.owner.id, role: 'owner', invitedBy: null, created: o.created });
    const joined = new Set([o.owner.id]);
    const extra = randomInt(MAX_EXTRA_MEMBERS + 1);
    while (joined.size < extra + 1) {
      const u = users[randomInt(users.length)]!;
      if (joined.has(u.id)) continue;
      joined.add(u.id);
      members.push({ orgId: o.id, userId: u.id, role: Math.random() < 0.25 ? 'admin' : 'member', invitedBy: o.owner.id, created: between(o.created.getTime(), seededBefore) });
    }
    // The benchmark's member joins the first few seeded orgs, spread over the year like everyone else's.
    if (i < MEMBER_SEEDED_ORGS) members.push({ orgId: o.id, userId: opts.memberUserId, role: 'member', invitedBy: o.owner.id, created: between(o.created.getTime(), seededBefore) });
  }
  await insertColumns(client, 'org_members', {
    org_id: { type: 'uuid', values: members.map((m) => m.orgId) },
    user_id: { type: 'text', values: members.map((m) => m.userId) },
    role: { type: 'text', values: members.map((m) => m.role) },
    invited_by: { type: 'text', values: members.map((m) => m.invitedBy) },
    created_at: { type: 'timestamptz', values: members.map((m) => m.created) },
  });
  await client.query('commit');
  // A production database has statistics; a freshly bulk-loaded one would be planned blind until autovacuum runs.
  await client.query('analyze');

  const count = (kind: keyof typeof SESSIONS_PER_USER) => SESSIONS_PER_USER[kind] * SEED_USERS;
  return {
    users: users.length,
    orgs: orgs.length,
    orgMembers: members.length,
    sessions: { live: count('live'), expired: count('expired'), revoked: count('revoked') },
    samples: samples as SqlSeedResult['samples'],
  };
}

async function tableFigures(client: pg.Client): Promise<Record<string, { rows: number; bytes: number }>> {
  const out: Record<string, { rows: number; bytes: number }> = {};
  for (const table of ['users', 'sessions', 'organizations', 'org_members', 'org_instances', 'audit_events']) {
    const row = (await client.query<{ rows: string; bytes: string }>(`select count(*) as rows, pg_total_relation_size('${table}') as bytes from ${table}`)).rows[0]!;
    out[table] = { rows: Number(row.rows), bytes: Number(row.bytes) };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Load

/**
 * One POST window in autocannon's own CLI, in its own process: bench/load.ts sends GETs only. The CLI prints its
 * result as one JSON line (`-j`), summarized here the way load.ts summarizes its own.
 */

// ---------------------------------------------------------------------------------------------------------------
// The run

export async function runControlPlaneBench(ctx: ControlPlaneBenchContext): Promise<ControlPlaneFigures> {
  const dbUrl = new URL(await createBenchDatabase(ctx.adminDatabaseUrl, 'cp', ctx.cleanup));
  const dbName = dbUrl.pathname.slice(1);

  const port = await freePort(ctx.host);
  const adminToken = `cp-admin-${randomBytes(24).toString('base64url')}`;
  // What is measured is the production configuration but for two knobs: the login scenario signs one account in from
  // one client hundreds of times, which the per-client-and-email limit (default 10 per 15 min) and the per-client
  // limit (default 100 per 15 min) exist to refuse.
  const env = {
    HOST: ctx.host,
    PORT: String(port),
    DATABASE_URL: dbUrl.toString(),
    MOLECULE_ENV: 'production',
    // Production refuses to boot without a keyring (secrets at rest).
    SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'warn',
    LOGIN_ATTEMPT_LIMIT: '100000',
    LOGIN_ADDRESS_LIMIT: '100000',
  };
  // A clean environment, as for the tenants: a REDIS_URL or PASSWORD_HASH_COST in the caller's shell must not change
  // what is measured.
  const cp: ServerProcess = spawnControlPlane({
    bin: ctx.bin,
    host: ctx.host,
    port,
    readyTimeoutMs: 60_000,
    env: { PATH: process.env['PATH'] ?? '', ...env, CP_ADMIN_API_TOKEN: adminToken },
  });
  ctx.cleanup.add('stop the control plane', async () => {
    const { code, signal } = await cp.stop();
    if (code !== 0) throw new Error(`the control plane exited with code ${code} (signal ${signal}) on SIGTERM:\n${cp.tail()}`);
  });
  const baseUrl = await cp.ready;

  console.log('\nMolecule Platform control plane benchmark');
  console.log(`  process    molecule-platform cp on ${baseUrl}, database ${dbName} (fresh, dropped at the end)`);
  console.log(`             env: ${Object.entries(env).filter(([k]) => k !== 'DATABASE_URL' && k !== 'PORT').map(([k, v]) => `${k}=${v}`).join(' ')} CP_ADMIN_API_TOKEN=…;`);
  console.log('             everything else at its default (PASSWORD_HASH_COST, DATABASE_POOL_SIZE, SESSION_TTL_HOURS, no Redis)');

  // Seeding: the benchmark's own accounts and org through the API, the bulk straight into PostgreSQL.
  process.stdout.write('  seeding    through the API: owner signup, terms, org, member signup, invitation, accept …');
  let t0 = performance.now();
  const { owner, member } = await seedThroughApi(baseUrl);
  const apiSeconds = (performance.now() - t0) / 1000;
  process.stdout.write(` ${fmt(apiSeconds, 1)} s\n`);

  const client = new pg.Client({ connectionString: dbUrl.toString() });
  await client.connect();
  let closing: Promise<void> | null = null;
  const closeClient = () => (closing ??= client.end());
  ctx.cleanup.add('close the control plane setup connection', closeClient);
  // The hash the API stored proves which cost the server runs at; the seeded accounts reuse a hash of that cost.
  const stored = (await client.query<{ password_hash: string }>('select password_hash from users where id = $1', [owner.userId])).rows[0]?.password_hash ?? '';
  const passwordHashCost = Number(stored.split('$')[1]);
  if (!Number.isInteger(passwordHashCost)) throw new Error(`unexpected stored password hash format: ${stored.slice(0, 12)}…`);
  process.stdout.write(`             SQL: ${fmt(SEED_USERS, 0)} users, their sessions, ${fmt(SEED_ORGS, 0)} orgs with members and instances …`);
  t0 = performance.now();
  const seeded = await seedControlPlaneTables(client, { memberUserId: member.userId, passwordHash: await hashPassword(randomBytes(12).toString('hex'), passwordHashCost) });
  const sqlSeconds = (performance.now() - t0) / 1000;
  const tables = await tableFigures(client);
  await closeClient();
  process.stdout.write(` ${fmt(sqlSeconds, 1)} s\n`);
  console.log(
    '             tables: ' +
      Object.entries(tables)
        .map(([t, f]) => `${t} ${fmt(f.rows, 0)} rows / ${fmt(f.bytes / 2 ** 20, 1)} MiB`)
        .join(', '),
  );

  // The seeded sessions behave as labelled: the live one signs in, the expired and the revoked ones do not.
  for (const [kind, expected] of [['live', 200], ['expired', 401], ['revoked', 401]] as const) {
    const res = await http('GET', `${baseUrl}/api/v1/auth/me`, { cookie: `mcp_session=${seeded.samples[kind]}` });
    if (res.status !== expected) throw new Error(`a seeded ${kind} session answered ${res.status} on /auth/me, expected ${expected}`);
  }

  // Each scenario answers once before any load, with what it claims to measure.
  const sessionHeaders = { cookie: member.cookie };
  const adminHeaders = { authorization: `Bearer ${adminToken}` };
  const expectedOrgs = 1 + MEMBER_SEEDED_ORGS;
  const prepare = async (
    meta: Omit<ControlPlaneScenario, 'responseBodyBytes' | 'measured' | 'warmup' | 'windows'>,
    path: string,
    headers: Record<string, string>,
    check: (body: unknown) => string | null,
  ) => {
    const res = await http('GET', `${baseUrl}${path}`, headers);
    const problem = res.status !== 200 ? `status ${res.status}` : check(JSON.parse(res.text));
    if (problem) throw new Error(`preflight GET ${path}: ${problem}: ${res.text.slice(0, 300)}`);
    return { meta: { ...meta, responseBodyBytes: Buffer.byteLength(res.text) }, url: `${baseUrl}${path}`, headers };
  };
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const health = await prepare({ id: 1, name: 'GET /health', request: 'GET /health', credential: 'none', connections: ctx.connections }, '/health', {}, () => null);
  const tenantMember = await prepare(
    { id: 2, name: 'GET /auth/tenant-member?slug=, member cookie', request: `GET /api/v1/auth/tenant-member?slug=${BENCH_SLUG}`, credential: 'session', connections: ctx.connections },
    `/api/v1/auth/tenant-member?slug=${BENCH_SLUG}`,
    sessionHeaders,
    (b) => (isObject(b) && b['member'] === true && b['user_id'] === member.userId && b['role'] === 'member' ? null : 'not {member: true, role: member}'),
  );
  const orgsList = await prepare(
    { id: 3, name: `GET /orgs, member cookie (${expectedOrgs} orgs)`, request: 'GET /api/v1/orgs', credential: 'session', connections: ctx.connections },
    '/api/v1/orgs',
    sessionHeaders,
    (b) => (Array.isArray(b) && b.length === expectedOrgs ? null : `expected ${expectedOrgs} orgs`),
  );
  const adminList = await prepare(
    { id: 4, name: `GET /admin/orgs?limit=${ADMIN_LIST_LIMIT}, CP admin bearer`, request: `GET /api/v1/admin/orgs?limit=${ADMIN_LIST_LIMIT}`, credential: 'cp-admin', connections: ctx.connections },
    `/api/v1/admin/orgs?limit=${ADMIN_LIST_LIMIT}`,
    adminHeaders,
    (b) => {
      const orgs = isObject(b) ? b['orgs'] : undefined;
      return Array.isArray(orgs) && orgs.length === ADMIN_LIST_LIMIT && orgs.every((o) => isObject(o) && Number(o['member_count']) >= 1) ? null : `expected ${ADMIN_LIST_LIMIT} orgs, each with members`;
    },
  );
  const loginBody = JSON.stringify({ email: member.email, password: member.password });
  const loginUrl = `${baseUrl}/api/v1/auth/login`;
  const loginCheck = await http('POST', loginUrl, {}, { email: member.email, password: member.password });
  if (loginCheck.status !== 200 || !loginCheck.setCookie.some((c) => c.startsWith('mcp_session='))) {
    throw new Error(`preflight POST /api/v1/auth/login answered ${loginCheck.status} without a session: ${loginCheck.text.slice(0, 300)}`);
  }

  const phaseStarted = performance.now();
  // A fresh process's first seconds of database traffic run slower (JIT, pool backends warming their caches); the
  // rounds must not measure that. Both database scenarios are primed; /health has no cold path worth priming.
  for (const s of [tenantMember, orgsList]) {
    process.stdout.write(`  priming    ${PRIME_SECONDS} s of ${s.meta.request}, not measured …`);
    const prime = await ctx.runLoad({ url: s.url, headers: s.headers, connections: ctx.connections, warmupSeconds: 0, durationSeconds: PRIME_SECONDS });
    ctx.assertClean(`priming ${s.meta.name}`, 'prime', prime.measured);
    process.stdout.write(` ${fmt(prime.measured.requestsPerSecMean, 1)} req/s\n`);
  }

  // 1, 2, 3 interleaved: 2 1 3 in odd rounds, 3 1 2 in even ones. Each ratio's pair (2 and 1; 3 and 1) is adjacent
  // in every round and swaps order every round, so linear drift adds as much to one side as to the other.
  const byId = new Map([health, tenantMember, orgsList].map((s) => [s.meta.id, s]));
  const windows = new Map<number, ControlPlaneWindow[]>([...byId.keys()].map((id) => [id, []]));
  const roundOrder: number[][] = [];
  for (let round = 1; round <= ctx.rounds; round++) {
    const order = round % 2 === 1 ? [2, 1, 3] : [3, 1, 2];
    roundOrder.push(order);
    process.stdout.write(`  round ${round}/${ctx.rounds}:`);
    for (const [index, id] of order.entries()) {
      const s = byId.get(id)!;
      const out = await ctx.runLoad({ url: s.url, headers: s.headers, connections: ctx.connections, warmupSeconds: ctx.roundWarmupSeconds, durationSeconds: ctx.windowSeconds });
      if (out.warmup) ctx.assertClean(s.meta.name, `round ${round} warm-up`, out.warmup);
      ctx.assertClean(s.meta.name, `round ${round}`, out.measured);
      windows.get(id)!.push({ round, position: index + 1, measured: out.measured, warmup: out.warmup });
      process.stdout.write(`  #${id} ${fmt(rate(out.measured), 1)}`);
    }
    process.stdout.write(' req/s\n');
  }
  const interleavedResult = (s: typeof health): ControlPlaneScenario => {
    const w = windows.get(s.meta.id)!;
    return { ...s.meta, measured: ctx.aggregate(w.map((x) => x.measured)), warmup: null, windows: w };
  };
  const healthResult = interleavedResult(health);
  const tenantMemberResult = interleavedResult(tenantMember);
  const orgsResult = interleavedResult(orgsList);

  // 4: one window, after the rounds, as the tenant's scenario 3.
  const singleSeconds = Math.max(1, Math.round(ctx.durationSeconds / 2));
  process.stdout.write(`  running 4. ${adminList.meta.name} …`);
  const admin4 = await ctx.runLoad({ url: adminList.url, headers: adminList.headers, connections: ctx.connections, warmupSeconds: WARMUP_SECONDS, durationSeconds: singleSeconds });
  if (admin4.warmup) ctx.assertClean(adminList.meta.name, 'warm-up', admin4.warmup);
  ctx.assertClean(adminList.meta.name, 'measured', admin4.measured);
  process.stdout.write(` ${fmt(admin4.measured.requestsPerSecMean, 1)} req/s\n`);
  const adminResult: ControlPlaneScenario = { ...adminList.meta, measured: admin4.measured, warmup: admin4.warmup, windows: null };

  // 5: last, as every sign-in adds a session row; few connections, as it is CPU-bound by design.
  const loginName = `POST /auth/login (scrypt N=2^${passwordHashCost})`;
  process.stdout.write(`  running 5. ${loginName}, ${LOGIN_CONNECTIONS} connections …`);
  const loginRun = await ctx.runLoad({
    url: loginUrl,
    method: 'POST',
    body: loginBody,
    headers: { 'content-type': 'application/json' },
    connections: LOGIN_CONNECTIONS,
    warmupSeconds: LOGIN_WARMUP_SECONDS,
    durationSeconds: singleSeconds,
  });
  const login = loginRun.measured;
  if (loginRun.warmup) ctx.assertClean(loginName, 'warm-up', loginRun.warmup);
  ctx.assertClean(loginName, 'measured', login);
  process.stdout.write(` ${fmt(rate(login), 1)} req/s\n`);
  const loginResult: ControlPlaneScenario = {
    id: 5,
    name: loginName,
    request: 'POST /api/v1/auth/login',
    credential: 'none',
    connections: LOGIN_CONNECTIONS,
    responseBodyBytes: Buffer.byteLength(loginCheck.text),
    measured: login,
    warmup: loginRun.warmup,
    windows: null,
  };
  const measuringSeconds = (performance.now() - phaseStarted) / 1000;

  return {
    database: dbName,
    env: { ...env, DATABASE_URL: '(the fresh database)', PORT: String(port), CP_ADMIN_API_TOKEN: '(set)' },
    passwordHashCost,
    seed: {
      viaApi: [
        'POST /api/v1/auth/signup (owner)',
        'POST /api/v1/auth/accept-terms (owner)',
        `POST /api/v1/orgs {slug: ${BENCH_SLUG}} (owner)`,
        'POST /api/v1/auth/signup (member)',
        `POST /api/v1/orgs/${BENCH_SLUG}/members/invitations (owner, role member)`,
        'POST /api/v1/invitations/accept (member)',
      ],
      viaSql: { users: seeded.users, orgs: seeded.orgs, orgMembers: seeded.orgMembers, orgInstances: seeded.orgs, sessions: seeded.sessions },
      apiSeconds,
      sqlSeconds,
      tables,
    },
    primeSeconds: PRIME_SECONDS,
    rounds: ctx.rounds,
    windowSeconds: ctx.windowSeconds,
    roundOrder,
    scenarios: [healthResult, tenantMemberResult, orgsResult, adminResult, loginResult],
    ratios: [interleavedRatio('tenant-member / health', tenantMemberResult, healthResult), interleavedRatio('orgs-list / health', orgsResult, healthResult)],
    measuringSeconds,
    warnings: cp.warnings,
    notes: [
      'One control plane process (molecule-platform cp) on its own fresh PostgreSQL database, run after the tenants were stopped; production defaults but LOGIN_ATTEMPT_LIMIT (raised so one client may sign one account in repeatedly).',
      `Seeded through the API: an owner (signup, terms, org "${BENCH_SLUG}") and a member (signup, invitation, accept). Through SQL: ${SEED_USERS} users with ${SESSIONS_PER_USER.live} live, ${SESSIONS_PER_USER.expired} expired and ${SESSIONS_PER_USER.revoked} revoked sessions each, ${SEED_ORGS} orgs with an owner, 0-${MAX_EXTRA_MEMBERS} more members and an instance row each; the member also belongs to ${MEMBER_SEEDED_ORGS} seeded orgs. Then ANALYZE.`,
      `Scenarios 2 and 3 present the member's session cookie; tenant-member asks about "${BENCH_SLUG}" (member: true, role member).`,
      `Scenarios 1, 2 and 3 are interleaved in ${ctx.rounds} rounds of one ${ctx.windowSeconds} s window each (after a ${ctx.roundWarmupSeconds} s warm-up), order 2 1 3 then 3 1 2, after ${PRIME_SECONDS} s of priming each for 2 and 3. Ratios: responses in equal time over all rounds; perRound holds each round's own.`,
      `Scenario 4 is one ${singleSeconds} s window after a ${WARMUP_SECONDS} s warm-up. Scenario 5 is one ${singleSeconds} s window with ${LOGIN_CONNECTIONS} connections after a ${LOGIN_WARMUP_SECONDS} s warm-up, run by autocannon's CLI (bench/load.ts sends GETs only); every sign-in creates a session row.`,
      'Every authenticated request also enqueues an audit event (written behind in batches); sign-ins write theirs in their own transaction.',
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Printing

export function printControlPlaneFigures(f: ControlPlaneFigures, printAligned: (header: string[], rows: string[][], leftColumns: number) => void) {
  console.log(`\nControl plane results (measured windows only; 1, 2, 3: all ${f.rounds} rounds summed; latency as recorded by autocannon, 1 ms resolution)\n`);
  printAligned(
    ['#', 'scenario', 'conns', 'req/s (mean)', '± sd (1 s samples)', 'p50 ms', 'p99 ms', 'non-2xx', 'responses', 'seconds'],
    f.scenarios.map((s) => [
      String(s.id),
      s.name,
      String(s.connections),
      fmt(rate(s.measured), 1),
      fmt(s.measured.requestsPerSecStddev, 1),
      fmt(s.measured.latencyMs.p50, 0),
      fmt(s.measured.latencyMs.p99, 0),
      String(s.measured.non2xx),
      fmt(s.measured.requestsTotal, 0),
      fmt(s.measured.durationSeconds, 0),
    ]),
    2,
  );
  console.log(`\n  note  response bodies: ${f.scenarios.map((s) => `#${s.id} ${s.responseBodyBytes} B`).join(', ')}. For 1, 2, 3: req/s = responses / seconds over all`);
  console.log("        rounds; p50 and p99 = the median of the windows' own. #5 runs at the production scrypt cost with 4 connections.");
  const [h, tm, ol] = [1, 2, 3].map((id) => f.scenarios.find((s) => s.id === id)!);
  console.log(`\nControl plane rounds (req/s per ${f.windowSeconds} s window; one scenario under load at a time)\n`);
  printAligned(
    ['round', 'order', '#1 req/s', '#2 req/s', '#3 req/s', '#2 / #1', '#3 / #1'],
    f.roundOrder.map((order, i) => {
      const [a, b, c] = [h!, tm!, ol!].map((s) => rate(s.windows![i]!.measured));
      return [String(i + 1), order.join(' '), fmt(a!, 1), fmt(b!, 1), fmt(c!, 1), fmt(b! / a!, 3), fmt(c! / a!, 3)];
    }),
    2,
  );
  console.log('\nControl plane ratios measured side by side in this run (figures, not tests)\n');
  for (const r of f.ratios) {
    console.log(
      `  ${r.name.padEnd(24)} ${fmt(r.value, 3)}   per round: ${r.perRound.map((x) => fmt(x, 3)).join(' ')}` +
        `   (min ${fmt(r.perRoundMin, 3)}, median ${fmt(r.perRoundMedian, 3)}, max ${fmt(r.perRoundMax, 3)})`,
    );
  }
  console.log(`\n  measuring took ${fmt(f.measuringSeconds, 0)} s (priming, ${f.rounds} rounds, scenarios 4 and 5)`);
  if (f.warnings.length > 0) {
    console.log(`\nThe control plane logged ${f.warnings.length} warning/error line(s); the first ones:`);
    for (const w of f.warnings.slice(0, 10)) console.log(`  ${w}`);
  }
}
