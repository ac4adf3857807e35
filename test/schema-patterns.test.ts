/**
 * Every `pattern` (and `format`) a request of either service is validated against must run in linear time: one
 * quadratic pattern let any signed-up user hold the control plane for 9.9 s with a 120 KB org name (issue 7 item 3).
 * The patterns are read from every route's registered schema (hidden routes and the /cp alias included), linted for
 * the shapes that backtrack super-linearly, and timed on adversarial inputs far longer than any body we accept.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Type } from 'typebox';
import { createBaseApp, type App, type RouteCatalogEntry } from '../src/core/http/app.js';
import { createLogger } from '../src/core/logger.js';
import { OrgName } from '../src/control-plane/orgs/schemas.js';
import { inspectControlPlaneApp, inspectTenantApp } from './support/openapi.js';
import { PatternAnalysis } from './support/regex-safety.js';
import { timeWorstCase } from './support/regex-timer.js';

/** Longer than anything a body may carry after JSON decoding (1 MB of JSON ≈ this many characters at worst). */
const LENGTH = 300_000;
/**
 * A linear pattern takes about a millisecond on 300 000 characters; a quadratic one takes tens of seconds (the
 * pattern this replaced: 3.5 s at 100 000). The budget sits far from both, so load never decides the outcome.
 */
const BUDGET_MS = 1000;
/** The org-name pattern before the fix: `[^ctl]*` on both sides of `\S` can split a run of text every which way. */
const QUADRATIC_ORG_NAME = '^[^\\u0000-\\u001f\\u007f]*\\S[^\\u0000-\\u001f\\u007f]*$';

const REQUEST_PARTS = ['body', 'querystring', 'params', 'headers'] as const;

interface Found {
  patterns: Map<string, string[]>;
  formats: Map<string, string[]>;
}

function collect(node: unknown, where: string, found: Found): void {
  if (Array.isArray(node)) return node.forEach((n) => collect(n, where, found));
  if (typeof node !== 'object' || node === null) return;
  for (const [key, value] of Object.entries(node)) {
    const add = (map: Map<string, string[]>, k: string) => map.set(k, [...new Set([...(map.get(k) ?? []), where])]);
    if (key === 'pattern' && typeof value === 'string') add(found.patterns, value);
    else if (key === 'format' && typeof value === 'string') add(found.formats, value);
    else if (key === 'patternProperties' && typeof value === 'object' && value !== null) Object.keys(value).forEach((k) => add(found.patterns, k));
    collect(value, where, found);
  }
}

function requestSchemasOf(service: string, catalog: RouteCatalogEntry[], found: Found): void {
  for (const route of catalog) {
    const schema = route.schema as Record<string, unknown> | undefined;
    for (const part of REQUEST_PARTS) collect(schema?.[part], `${service} ${route.method} ${route.url} ${part}`, found);
  }
}

const usedBy = (where: string[]) => `${where.slice(0, 3).join('; ')}${where.length > 3 ? ` and ${where.length - 3} more` : ''}`;

describe('request schema patterns run in linear time', () => {
  const found: Found = { patterns: new Map(), formats: new Map() };
  before(async () => {
    requestSchemasOf('tenant', await inspectTenantApp((app) => app.routeCatalog), found);
    requestSchemasOf('control plane', await inspectControlPlaneApp((app) => app.routeCatalog), found);
  });

  it('finds the patterns of both services, the org name and UUIDs among them, and not the quadratic one', () => {
    assert.ok(found.patterns.size >= 10, `only ${found.patterns.size} patterns found`);
    const orgName = (OrgName as { pattern?: string }).pattern;
    assert.ok(orgName && found.patterns.get(orgName)?.some((w) => w.includes('POST /api/v1/orgs body')), 'the org-name pattern is walked');
    assert.ok([...found.patterns.values()].flat().some((w) => w.startsWith('tenant ')), 'tenant patterns are walked');
    assert.equal(found.patterns.has(QUADRATIC_ORG_NAME), false);
    assert.ok(found.formats.has('email'), 'formats are walked too');
  });

  it('lint: no pattern has nested or adjacent quantifiers that can take the same characters', () => {
    const problems: string[] = [];
    for (const [pattern, where] of found.patterns) {
      for (const p of new PatternAnalysis(pattern).lint()) problems.push(`${pattern} (${usedBy(where)}): ${p}`);
    }
    assert.deepEqual(problems, []);
  });

  it(`every pattern and format answers within ${BUDGET_MS} ms on ${LENGTH}-character adversarial inputs`, async () => {
    const slow: string[] = [];
    let runs = 0;
    for (const [pattern, where] of found.patterns) {
      const r = await timeWorstCase({ kind: 'pattern', pattern, flags: 'u' }, LENGTH, BUDGET_MS);
      runs += r.inputs;
      if (r.timedOut || r.worstMs > BUDGET_MS) slow.push(`${pattern} (${usedBy(where)}): ${Math.round(r.worstMs)} ms on ${r.worstInput}`);
    }
    for (const [name, where] of found.formats) {
      const r = await timeWorstCase({ kind: 'format', name }, LENGTH, BUDGET_MS);
      runs += r.inputs;
      if (r.timedOut || r.worstMs > BUDGET_MS) slow.push(`format ${name} (${usedBy(where)}): ${Math.round(r.worstMs)} ms on ${r.worstInput}`);
    }
    assert.deepEqual(slow, []);
    assert.ok(runs > found.patterns.size * 5, `${runs} adversarial inputs were run`);
  });

  it('both checks catch the quadratic org-name pattern this replaced, and textbook cases', async () => {
    assert.match(new PatternAnalysis(QUADRATIC_ORG_NAME).lint().join('\n'), /adjacent quantifiers/);
    for (const bad of ['^(a+)+$', '^(a|ab)*$', '^(?:x?)*$', '\\s+$', '^a*b?a*$']) assert.notDeepEqual(new PatternAnalysis(bad).lint(), [], bad);
    for (const good of ['^[a-z][a-z0-9-]{2,31}$', '^[A-Z_][A-Z0-9_]*$', '^[^\\n\\r]*$', '^[a-z]+(?:\\.[a-z]+)*$']) assert.deepEqual(new PatternAnalysis(good).lint(), [], good);
    const r = await timeWorstCase({ kind: 'pattern', pattern: QUADRATIC_ORG_NAME, flags: 'u' }, LENGTH, BUDGET_MS);
    assert.ok(r.timedOut, `the quadratic pattern was stopped past the budget (worst ${Math.round(r.worstMs)} ms)`);
  });
});

describe('the shared validator', () => {
  let app: App;
  before(async () => {
    ({ app } = await createBaseApp({ logger: createLogger({ name: 'validator', level: 'silent' }), title: 't', description: 'd', version: '0', securitySchemes: {} }));
    const body = Type.Object(
      {
        // The quadratic pattern on purpose: the validator must never reach it for an over-long value.
        name: Type.String({ maxLength: 100, pattern: QUADRATIC_ORG_NAME, 'x-error': 'must be 1-100 characters' }),
        slug: Type.String(),
        owner: Type.String(),
      },
      { additionalProperties: false },
    );
    app.post('/probe', { schema: { body } }, async () => ({ ok: true }));
    await app.ready();
  });

  it('checks maxLength before the pattern and stops there: a 300 000-character value is refused at once, naming the field', async () => {
    const started = performance.now();
    const res = await app.inject({ method: 'POST', url: '/probe', payload: { name: `${'a'.repeat(LENGTH)}\t`, slug: 's', owner: 'o' } });
    const elapsed = performance.now() - started;
    assert.equal(res.statusCode, 400, res.body);
    const body = res.json();
    assert.equal(body.code, 'VALIDATION_FAILED');
    assert.equal(body.field, 'name');
    assert.equal(body.error, 'name must be 1-100 characters');
    // Before the fix the pattern ran anyway and this took tens of seconds; now it is milliseconds.
    assert.ok(elapsed < 5 * BUDGET_MS, `answered in ${Math.round(elapsed)} ms`);
  });

  it('still names every missing required field although validation stops at the first error', async () => {
    const res = await app.inject({ method: 'POST', url: '/probe', payload: {} });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error, 'name, slug, owner are required');
    assert.deepEqual(res.json().fields, ['name', 'slug', 'owner']);
    const one = await app.inject({ method: 'POST', url: '/probe', payload: { name: 'n', slug: 's' } });
    assert.equal(one.json().error, 'owner is required');
    assert.deepEqual(one.json().fields, ['owner']);
  });
});
