/**
 * What every browser test of the web console shares: finding Debian's Chromium, the axe-core check, screenshots at
 * 1280 px and 390 px, and one `molecule-platform up` (what `npm start` runs) with a browser pointed at it.
 *
 * Without Chromium (CHROMIUM_PATH, else /usr/bin/chromium) a browser file is skipped outside CI and fails under CI=true:
 * call `consoleSkip()` for the `describe` option.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DEFAULT_WEB_ROOT } from '../../src/core/http/console.js';
import { startUp, type StartedUp } from './binary.js';
import { descendants, http, killAll, killTenants, tenantProcesses, within, type Reply } from './platform.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CHROMIUM = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));
export const SCREENSHOTS = path.join(REPO, 'test-output', 'console');

/** The `describe` skip option of a browser file: skipped without Chromium outside CI, a failure under CI=true. */
export function consoleSkip(): false | string {
  if (CHROMIUM) return false;
  if (process.env['CI'] === 'true') throw new Error('Chromium not found (set CHROMIUM_PATH or install Debian’s chromium): the browser tests are mandatory under CI=true');
  console.log('# console browser tests skipped: Chromium not found (set CHROMIUM_PATH or install Debian’s chromium package)');
  return 'Chromium not found';
}

let axeSource: string | undefined;

/** axe-core on the page as it is now: no serious or critical violation. */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  axeSource ??= readFileSync(path.join(REPO, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  // Evaluated through the DevTools protocol, not added as a <script>: the page's CSP (rightly) refuses inline scripts.
  await page.evaluate(`${axeSource}\n;undefined`);
  const violations = (await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (ctx: unknown) => Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: unknown }> }> }> } }).axe;
    return (await axe.run((globalThis as unknown as { document: unknown }).document)).violations;
  })) as Array<{ id: string; impact: string; help: string; nodes: Array<{ target: unknown }> }>;
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.impact} ${v.id}: ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`),
    [],
    `${what}: axe-core violations`,
  );
}

/** Screenshots at 1280 px and 390 px wide (test-output/console/<name>-<width>.png), then back to 1280. */
export async function shoot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 800 });
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** Every page visited: accessible, and screenshotted. */
export async function check(page: Page, name: string): Promise<void> {
  await assertAccessible(page, name);
  await shoot(page, name);
}

/** A tenant-host request from Node: to loopback with the tenant's Host header (Node does not resolve *.localhost). */
export function onTenant(tenantUrl: string, p: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Reply> {
  const u = new URL(tenantUrl);
  return http(init.method ?? 'GET', `http://127.0.0.1:${u.port}${p}`, { host: u.host, ...(init.headers ? { headers: init.headers } : {}), ...(init.body !== undefined ? { body: init.body } : {}) });
}

/** curl, as the terminal in the seed's instructions: status and body of `<method> <tenant><path>` with a bearer key. */
export async function curlTenant(tenantUrl: string, key: string, p: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const { stdout } = await promisify(execFile)('curl', ['-s', '-X', method, '-w', '\\n%{http_code}', `${tenantUrl}${p}`, '-H', `Authorization: Bearer ${key}`, '-H', 'X-Molecule-Org-Slug: acme']);
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}

/** One `molecule-platform up` with Chromium pointed at it. */
export interface ConsoleRig {
  up: StartedUp;
  browser: Browser;
  context: BrowserContext;
  cpUrl: string;
  tenantUrl: string;
  /** The demo org's Org API key as the banner printed it (admin). */
  orgKey: string;
  /** Content-Security-Policy violations the browser reported on any page so far. */
  cspViolations: string[];
  /** A new page signed in as the demo owner on the CP host (the org list is showing). */
  cpPage: () => Promise<Page>;
  /** A new page signed in as the demo owner on the acme tenant host, at `/app/<rest>`, once its heading shows. */
  tenantPage: (rest?: string) => Promise<Page>;
  stop: () => Promise<void>;
}

/** Starts `up` on a fresh data directory and Chromium; `stop()` in `after` takes both down with every tenant process. */
export async function startConsole(extraEnv: Record<string, string> = {}): Promise<ConsoleRig> {
  assert.ok(existsSync(path.join(DEFAULT_WEB_ROOT, 'index.html')), 'the console is not built: run npm run build:web');
  const dir = mkdtempSync(path.join(tmpdir(), 'molecule-console-'));
  const up = await startUp(dir, extraEnv);
  const cpUrl = up.field('Control plane');
  const tenantUrl = up.field('Org tenant');
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: tenantUrl });
  const cspViolations: string[] = [];
  context.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  const signIn = async (page: Page) => {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(up.field('Demo owner'));
    await page.getByLabel('Password').fill(up.field('Demo password'));
    await page.getByRole('button', { name: 'Sign in' }).click();
  };
  let cpSignedIn = false;
  let tenantSignedIn = false;
  return {
    up,
    browser,
    context,
    cpUrl,
    tenantUrl,
    orgKey: up.field('Org API key'),
    cspViolations,
    cpPage: async () => {
      const page = await context.newPage();
      await page.goto(`${cpUrl}/`);
      if (!cpSignedIn) {
        await signIn(page);
        cpSignedIn = true;
      }
      await page.getByRole('heading', { name: 'Your organizations' }).waitFor();
      return page;
    },
    tenantPage: async (rest = '') => {
      const page = await context.newPage();
      await page.goto(`${tenantUrl}/app/${rest}`);
      if (!tenantSignedIn) {
        // The tenant host has its own host-only session (README, "Console"): one sign-in through its /cp proxy.
        await signIn(page);
        tenantSignedIn = true;
      }
      await page.locator('main h1').first().waitFor();
      return page;
    },
    stop: async () => {
      await browser.close().catch(() => undefined);
      const orgId = up.field('Org id');
      const left = [...descendants(up.proc.pid!), ...tenantProcesses(orgId)];
      if (up.proc.exitCode === null && up.proc.signalCode === null) {
        up.proc.kill('SIGINT');
        await within(up.exited, 60_000);
      }
      await killAll(left);
      await killTenants([orgId]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
