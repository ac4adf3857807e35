import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createBenchDatabase } from './database.js';
import { mintCredential } from '../src/core/credentials/format.js';
import { fmt } from './stats.js';
import { freePort, spawnTenant } from './tenant-process.js';

/**
 * Org import (issue 10 item 6; BENCH_PARTS=orgimport runs it alone): one real tenant process on a fresh PostgreSQL
 * database with the real local provisioner. A generated org template of WORKSPACES workspaces (a lead, teams of
 * leads with members) is imported through POST /org/import; the clock stops when the last of them is online — seen
 * as its WORKSPACE_ONLINE event on GET /events/stream (opened before the import), not by polling or sleeping. Then
 * the same template is imported again: everything is skipped, and that answer is timed. Targets are figures printed
 * beside the results; nothing here fails on a figure.
 */

export const ORG_IMPORT_TARGETS = { onlineMs: 10_000, reimportOverFirst: 0.1 } as const;
const WORKSPACES = 100;
const ONLINE_TIMEOUT_MS = 120_000;

export interface OrgImportBenchContext {
  bin: string;
  host: string;
  adminDatabaseUrl: string;
  cleanup: { add(name: string, fn: () => Promise<void>): void };
}

export interface OrgImportFigures {
  workspaces: number;
  /** POST /org/import sent → its 201 (records committed, runtimes started). */
  importResponseMs: number;
  /** POST /org/import sent → the last WORKSPACE_ONLINE. */
  allOnlineMs: number;
  /** The second POST /org/import (everything skipped): sent → 200-class answer. */
  reimportMs: number;
  /** reimportMs ÷ allOnlineMs. */
  reimportOverFirst: number;
  /** reimportMs ÷ importResponseMs (both are the request alone). */
  reimportOverFirstResponse: number;
  provisionConcurrency: number;
  targets: typeof ORG_IMPORT_TARGETS;
  warnings: string[];
  notes: string[];
}

/** A lead, and teams of one lead + members, WORKSPACES workspaces in all. */
function generatedTemplate(): { name: string; workspaces: unknown[] } {
  const teams: unknown[] = [];
  let left = WORKSPACES - 1;
  for (let t = 1; left > 0; t++) {
    const size = Math.min(10, left);
    left -= size;
    teams.push({ name: `Team ${t} Lead`, role: 'team lead', children: Array.from({ length: size - 1 }, (_, i) => ({ name: `Member ${t}.${i + 1}`, role: 'member' })) });
  }
  return { name: 'Bench org', workspaces: [{ name: 'Org Lead', role: 'lead', children: teams }] };
}

/** Resolves once every id in `ids` has a WORKSPACE_ONLINE on the stream; rejects on a failure event or the deadline. */
function onlineWatcher(baseUrl: string, headers: Record<string, string>) {
  const online = new Set<string>();
  const state: { expected: Set<string> | null } = { expected: null };
  let resolveDone: (at: number) => void = () => undefined;
  let rejectDone: (err: Error) => void = () => undefined;
  const done = new Promise<number>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  const controller = new AbortController();
  const check = () => {
    const expected = state.expected;
    if (expected && [...expected].every((id) => online.has(id))) resolveDone(performance.now());
  };
  const opened = (async () => {
    const res = await fetch(`${baseUrl}/events/stream`, { headers, signal: controller.signal });
    if (res.status !== 200 || !res.body) throw new Error(`GET /events/stream answered ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    // The first bytes (`: ping`) come once the stream is subscribed: from then on no event can be missed.
    const head = await reader.read();
    let buffer = head.value ?? '';
    return {
      // Ends with an AbortError when the benchmark closes the stream: that is the normal end.
      pump: (async () => {
        for (;;) {
          const { value, done: ended } = await reader.read();
          if (ended) return;
          buffer += value;
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            for (const line of frame.split('\n')) {
              if (!line.startsWith('data: ')) continue;
              const event = JSON.parse(line.slice(6)) as { type: string; workspace_id: string | null; data?: { error?: string } };
              if (event.type === 'WORKSPACE_ONLINE' && event.workspace_id) online.add(event.workspace_id);
              if (event.type === 'WORKSPACE_PROVISION_FAILED' && state.expected?.has(event.workspace_id ?? '')) {
                rejectDone(new Error(`workspace ${event.workspace_id} failed: ${event.data?.error ?? ''}`));
              }
            }
            check();
          }
        }
      })().catch((err: unknown) => {
        if (!controller.signal.aborted) rejectDone(err instanceof Error ? err : new Error(String(err)));
      }),
    };
  })();
  return {
    opened,
    expect(ids: string[]) {
      state.expected = new Set(ids);
      check();
      const timer = setTimeout(() => rejectDone(new Error(`only ${ids.filter((id) => online.has(id)).length} of ${ids.length} online after ${ONLINE_TIMEOUT_MS} ms`)), ONLINE_TIMEOUT_MS);
      return done.finally(() => clearTimeout(timer));
    },
    close: () => controller.abort(),
  };
}

export async function runOrgImportBench(ctx: OrgImportBenchContext): Promise<OrgImportFigures> {
  const dbUrl = new URL(await createBenchDatabase(ctx.adminDatabaseUrl, 'orgimport', ctx.cleanup));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'molecule-bench-orgimport-'));
  ctx.cleanup.add('remove the org import data directory', async () => rmSync(dataDir, { recursive: true, force: true }));

  const orgId = randomUUID();
  const adminToken = mintCredential('tenantAdminToken').plaintext;
  const port = await freePort(ctx.host);
  const concurrency = 8;
  const tenant = spawnTenant({
    bin: ctx.bin,
    host: ctx.host,
    port,
    readyTimeoutMs: 60_000,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOST: ctx.host,
      PORT: String(port),
      DATABASE_URL: dbUrl.toString(),
      MOLECULE_DATA_DIR: dataDir,
      ADMIN_TOKEN: adminToken,
      MOLECULE_ORG_ID: orgId,
      MOLECULE_ORG_SLUG: 'bench-orgimport',
      MOLECULE_ENV: 'production',
      SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'warn',
      WORKSPACE_PROVISIONER: 'local',
      MOLECULE_PROVISION_CONCURRENCY: String(concurrency),
      // A uid range of its own, so a concurrent run elsewhere on the host never shares an agent uid.
      AGENT_UID_BASE: String(1_500_000 + Math.floor(Math.random() * 400) * 1000),
      AGENT_UID_COUNT: String(WORKSPACES * 2),
    },
  });
  ctx.cleanup.add('stop the org import tenant', async () => {
    const { code, signal } = await tenant.stop();
    if (code !== 0) throw new Error(`the org import tenant exited with code ${code} (signal ${signal}) on SIGTERM:\n${tenant.tail()}`);
  });
  const baseUrl = await tenant.ready;
  const headers = { authorization: `Bearer ${adminToken}`, 'x-molecule-org-id': orgId };
  const template = generatedTemplate();
  const importOnce = async () => {
    const t0 = performance.now();
    const res = await fetch(`${baseUrl}/org/import`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ template }) });
    const text = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 201) throw new Error(`POST /org/import answered ${res.status}: ${text.slice(0, 300)}`);
    return { t0, ms, body: JSON.parse(text) as { created_count: number; skipped_count: number; workspaces: Array<{ id: string }> } };
  };

  const watcher = onlineWatcher(baseUrl, headers);
  try {
    await watcher.opened;
    const first = await importOnce();
    if (first.body.created_count !== WORKSPACES) throw new Error(`the first import created ${first.body.created_count}, expected ${WORKSPACES}`);
    const onlineAt = await watcher.expect(first.body.workspaces.map((w) => w.id));
    const allOnlineMs = onlineAt - first.t0;
    const second = await importOnce();
    if (second.body.skipped_count !== WORKSPACES || second.body.created_count !== 0) throw new Error(`the re-import did not skip everything: ${JSON.stringify({ created: second.body.created_count, skipped: second.body.skipped_count })}`);
    return {
      workspaces: WORKSPACES,
      importResponseMs: first.ms,
      allOnlineMs,
      reimportMs: second.ms,
      reimportOverFirst: second.ms / allOnlineMs,
      reimportOverFirstResponse: second.ms / first.ms,
      provisionConcurrency: concurrency,
      targets: ORG_IMPORT_TARGETS,
      warnings: tenant.warnings,
      notes: [
        `One tenant process (WORKSPACE_PROVISIONER=local, MOLECULE_PROVISION_CONCURRENCY=${concurrency}) on a fresh PostgreSQL database; a generated template of ${WORKSPACES} workspaces (a lead, teams of 10) sent inline as JSON.`,
        '"All online" is timed from the request to the last WORKSPACE_ONLINE event on GET /events/stream, which was opened before the import.',
        'The re-import is the same request again: every workspace is matched under its parent and skipped; its time is the request alone.',
      ],
    };
  } finally {
    watcher.close();
  }
}

export function printOrgImportFigures(f: OrgImportFigures) {
  console.log('\nOrg import (POST /org/import, real runtimes, PostgreSQL)');
  console.log(`  ${f.workspaces} workspaces: import answered in ${fmt(f.importResponseMs, 0)} ms; all online after ${fmt(f.allOnlineMs, 0)} ms (target ≤ ${f.targets.onlineMs} ms)`);
  console.log(`  re-import (all skipped): ${fmt(f.reimportMs, 0)} ms; re-import ÷ first (all online) = ${fmt(f.reimportOverFirst, 3)} (target ≤ ${f.targets.reimportOverFirst}); ÷ first answer = ${fmt(f.reimportOverFirstResponse, 3)}`);
  for (const w of f.warnings.slice(0, 5)) console.log(`  tenant warning: ${w}`);
}
