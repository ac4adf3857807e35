import { randomInt, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { mintCredential } from '../src/core/credentials/format.js';
import { ulid } from '../src/core/ids.js';

/**
 * Fills org_api_tokens with the history a busy org accumulates: many revoked keys and a thousand live ones. Rows
 * are built with the product's own mintCredential and ULIDs, so hashes, display prefixes and ids have exactly the
 * production format and distribution (a uniform random sha256 per key, ids sorted by their creation time).
 */

const DAY_MS = 86_400_000;
const ROLES = ['admin', 'editor', 'reader'] as const;
const NAMES = ['ci', 'deploy', 'terraform', 'github-actions', 'grafana', 'backup', 'local dev', 'staging', 'agent-runner'];

export interface SeedOptions {
  orgId: string;
  revoked: number;
  live: number;
  /** Every seeded row is created before this instant, so the keys the benchmark minted stay the newest. */
  before: Date;
  batchSize: number;
}

export interface SeedResult {
  /** Plaintexts of the live rows: kept so the caller can prove a sample really authenticates. */
  livePlaintexts: string[];
  /** Plaintexts of a few revoked rows, to prove they are really rejected. */
  revokedSample: string[];
  insertMs: number;
}

interface Row {
  id: string;
  token_hash: string;
  prefix: string;
  name: string | null;
  role: string;
  expires_at: Date | null;
  created_by: string;
  org_id: string;
  rotated_from: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

function between(from: number, to: number): Date {
  return new Date(from + Math.random() * Math.max(0, to - from));
}

function pick<T>(items: readonly T[]): T {
  return items[randomInt(items.length)]!;
}

/** Mostly admin keys (the mint default), some narrower ones, as a real org's list looks. */
function pickRole(): string {
  const r = Math.random();
  return r < 0.6 ? ROLES[0] : r < 0.85 ? ROLES[1] : ROLES[2];
}

function createdBy(previousPrefixes: string[]): string {
  const r = Math.random();
  if (r < 0.5 || previousPrefixes.length === 0) return 'admin-token';
  if (r < 0.8) return `session:${randomUUID()}`;
  return `org-token:${pick(previousPrefixes)}`;
}

function buildRows(opts: SeedOptions): { rows: Row[]; livePlaintexts: string[]; revokedSample: string[] } {
  const now = opts.before.getTime();
  const rows: Row[] = [];
  const prefixes: string[] = [];
  const revokedIds: string[] = [];
  const livePlaintexts: string[] = [];
  const revokedSample: string[] = [];

  // Revoked: created over the last two years, each revoked some time after its creation.
  for (let i = 0; i < opts.revoked; i++) {
    const minted = mintCredential('orgKey');
    const createdAt = between(now - 730 * DAY_MS, now - DAY_MS);
    const revokedAt = between(createdAt.getTime(), now - 60_000);
    const id = `tok_${ulid(createdAt.getTime())}`;
    rows.push({
      id,
      token_hash: minted.hash,
      prefix: minted.displayPrefix,
      name: Math.random() < 0.1 ? null : `${pick(NAMES)}-${i}`,
      role: pickRole(),
      expires_at: Math.random() < 0.3 ? between(createdAt.getTime(), createdAt.getTime() + 365 * DAY_MS) : null,
      created_by: createdBy(prefixes),
      org_id: opts.orgId,
      rotated_from: Math.random() < 0.1 && revokedIds.length > 0 ? pick(revokedIds) : null,
      created_at: createdAt,
      last_used_at: Math.random() < 0.7 ? between(createdAt.getTime(), revokedAt.getTime()) : null,
      revoked_at: revokedAt,
    });
    prefixes.push(minted.displayPrefix);
    revokedIds.push(id);
    if (revokedSample.length < 3) revokedSample.push(minted.plaintext);
  }

  // Live: created over the last year, never revoked; a fifth carry an expiry, always in the future, so every
  // one of them passes the live filter (revoked_at is null and not expired) and authenticates.
  for (let i = 0; i < opts.live; i++) {
    const minted = mintCredential('orgKey');
    const createdAt = between(now - 365 * DAY_MS, now - 3_600_000);
    rows.push({
      id: `tok_${ulid(createdAt.getTime())}`,
      token_hash: minted.hash,
      prefix: minted.displayPrefix,
      name: Math.random() < 0.1 ? null : `${pick(NAMES)}-live-${i}`,
      role: pickRole(),
      expires_at: Math.random() < 0.2 ? between(now + 30 * DAY_MS, now + 365 * DAY_MS) : null,
      created_by: createdBy(prefixes),
      org_id: opts.orgId,
      // A rotated key's predecessor is revoked (or expiring), so successors point at revoked rows.
      rotated_from: Math.random() < 0.05 && revokedIds.length > 0 ? pick(revokedIds) : null,
      created_at: createdAt,
      last_used_at: Math.random() < 0.7 ? between(createdAt.getTime(), now - 60_000) : null,
      revoked_at: null,
    });
    livePlaintexts.push(minted.plaintext);
  }
  return { rows, livePlaintexts, revokedSample };
}

export async function seedLargeTable(client: pg.Client, opts: SeedOptions): Promise<SeedResult> {
  const { rows, livePlaintexts, revokedSample } = buildRows(opts);
  const started = performance.now();
  // unnest over one array per column: one round trip and a handful of parameters per batch, however many rows.
  const insert = `insert into org_api_tokens
      (id, token_hash, prefix, name, role, expires_at, created_by, org_id, rotated_from, created_at, last_used_at, revoked_at)
    select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[],
                         $8::uuid[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[])`;
  await client.query('begin');
  try {
    for (let i = 0; i < rows.length; i += opts.batchSize) {
      const batch = rows.slice(i, i + opts.batchSize);
      await client.query(insert, [
        batch.map((r) => r.id),
        batch.map((r) => r.token_hash),
        batch.map((r) => r.prefix),
        batch.map((r) => r.name),
        batch.map((r) => r.role),
        batch.map((r) => r.expires_at),
        batch.map((r) => r.created_by),
        batch.map((r) => r.org_id),
        batch.map((r) => r.rotated_from),
        batch.map((r) => r.created_at),
        batch.map((r) => r.last_used_at),
        batch.map((r) => r.revoked_at),
      ]);
    }
    await client.query('commit');
  } catch (err) {
    await client.query('rollback');
    throw err;
  }
  // A table that grew to this size in production would long since have been vacuumed and analyzed by autovacuum,
  // and its pages written out by a checkpoint. Doing both now keeps the measurement about that steady state, not
  // about the planner's view, the hint-bit writes or a checkpoint right after a bulk load.
  await client.query('vacuum analyze org_api_tokens');
  await client.query('checkpoint');
  return { livePlaintexts, revokedSample, insertMs: performance.now() - started };
}
