/**
 * The fuzz runner shared by both services: turns a service's OpenAPI document (and, for routes it does not list,
 * the route's own registered schema) into one request generator per route, sends the requests with valid
 * credentials, and checks the three promises of issue 8 on every answer:
 *
 * 1. no 5xx (a service may name the few documented 5xx answers of its test configuration);
 * 2. every error answer is the one error body `{error, code, request_id}` with a code from the closed table whose
 *    status is the answer's (HTML pages: an HTML page);
 * 3. an error answer changed nothing: a checksum of every table's contents is the same before and after.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import fc from 'fast-check';
import { sql, type Kysely } from 'kysely';
import { ERROR_CODES } from '../../../src/core/errors.js';
import type { App, RouteCatalogEntry } from '../../../src/core/http/app.js';
import {
  Entries,
  NASTY_CONTENT_TYPES,
  NASTY_JSON,
  NASTY_RAW_BODIES,
  NASTY_TEXT,
  Raw,
  RawText,
  renderJson,
  valueFor,
  type JsonSchema,
  type KnownValues,
} from './arbitraries.js';

/** Cases per route (`FUZZ_RUNS`, default 6); `FUZZ_SEED` replays a run fast-check reported. */
export const FUZZ_RUNS = Number(process.env['FUZZ_RUNS'] ?? 6);
export const FUZZ_SEED = process.env['FUZZ_SEED'] !== undefined ? Number(process.env['FUZZ_SEED']) : undefined;

export interface FuzzRoute {
  method: string;
  /** The route pattern as registered (`/workspaces/:id`). */
  url: string;
  params?: JsonSchema;
  query?: JsonSchema;
  headers?: JsonSchema;
  body?: JsonSchema;
  /** Where the schemas came from: the served OpenAPI document, its `/api/v1` twin (the `/cp` alias), or the route. */
  source: 'openapi' | 'openapi-twin' | 'route-schema';
  /** An HTML page: its form is urlencoded and its errors are pages. */
  page: boolean;
  /** Server-Sent Events: sent over real HTTP and cut once the headers are in. */
  stream: boolean;
}

type Operation = {
  parameters?: Array<{ in: string; name: string; required?: boolean; schema?: JsonSchema }>;
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
};
export type OpenApiDoc = { paths: Record<string, Record<string, Operation>> };

const toJson = (v: unknown): JsonSchema | undefined => (v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as JsonSchema));

function parametersOf(op: Operation, where: string): JsonSchema | undefined {
  const list = (op.parameters ?? []).filter((p) => p.in === where);
  if (list.length === 0) return undefined;
  return {
    type: 'object',
    properties: Object.fromEntries(list.map((p) => [p.name, p.schema ?? {}])),
    required: list.filter((p) => p.required).map((p) => p.name),
  };
}

/**
 * Every route the app serves (its catalog), each with request schemas: from the OpenAPI document where it is
 * listed, else from its twin (`twin(url)`, e.g. the `/cp` alias of an `/api/v1` route), else from the schema it
 * was registered with (hidden HTML pages).
 */
export function fuzzRoutes(
  doc: OpenApiDoc,
  catalog: readonly RouteCatalogEntry[],
  opts: { twin?: (url: string) => string | null; pages?: ReadonlySet<string>; streams?: ReadonlySet<string> } = {},
): FuzzRoute[] {
  const out: FuzzRoute[] = [];
  for (const entry of catalog) {
    const key = `${entry.method} ${entry.url}`;
    const docPath = (url: string) => url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const direct = doc.paths[docPath(entry.url)]?.[entry.method.toLowerCase()];
    const twinUrl = opts.twin?.(entry.url);
    const viaTwin = !direct && twinUrl ? doc.paths[docPath(twinUrl)]?.[entry.method.toLowerCase()] : undefined;
    const op = direct ?? viaTwin;
    const base = { method: entry.method, url: entry.url, page: opts.pages?.has(key) ?? false, stream: opts.streams?.has(key) ?? false };
    if (op) {
      const body = op.requestBody?.content?.['application/json']?.schema;
      out.push({
        ...base,
        source: direct ? 'openapi' : 'openapi-twin',
        ...optional('params', parametersOf(op, 'path')),
        ...optional('query', parametersOf(op, 'query')),
        ...optional('headers', parametersOf(op, 'header')),
        ...optional('body', body),
      });
    } else {
      const s = entry.schema ?? {};
      out.push({
        ...base,
        source: 'route-schema',
        ...optional('params', toJson(s.params)),
        ...optional('query', toJson(s.querystring)),
        ...optional('headers', toJson(s.headers)),
        ...optional('body', toJson(s.body)),
      });
    }
  }
  return out;
}

function optional<K extends string>(key: K, value: JsonSchema | undefined): Partial<Record<K, JsonSchema>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, JsonSchema>);
}

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

export interface RequestSpec {
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  headers: Record<string, unknown>;
  body: unknown;
  /** Replaces the rendered body entirely (malformed JSON, a body over the limit). */
  rawBody?: string;
  /** Overrides the content type; null sends none. */
  contentType?: string | null;
  /** What was made hostile, for the failure message. */
  mutation: string;
}

const short = (v: unknown): string => {
  const text = v instanceof Raw ? `raw(${v.text})` : v instanceof RawText ? `raw(${v.text})` : v instanceof Entries ? `entries(${renderJson(v)})` : JSON.stringify(v) ?? 'undefined';
  return text.length > 120 ? `${text.slice(0, 100)}…(${text.length} chars)` : text;
};

/** A generated case, printed compactly when fast-check reports it (a 1 MB string is not printed whole). */
export class FuzzCase {
  constructor(readonly spec: RequestSpec) {}
  [fc.toStringMethod](): string {
    const s = this.spec;
    const parts = [`mutation=${s.mutation}`, `params=${short(s.params)}`, `query=${short(s.query)}`];
    if (s.body !== undefined) parts.push(`body=${short(s.body)}`);
    if (s.rawBody !== undefined) parts.push(`rawBody=${short(s.rawBody)}`);
    if (s.contentType !== undefined) parts.push(`contentType=${String(s.contentType)}`);
    return parts.join(' ');
  }
}

/** No unpaired surrogate (encodeURIComponent throws on one). */
const wellFormed = (s: string) => !/[\ud800-\udfff]/.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''));

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Raw) && !(v instanceof Entries);
const hasBody = (method: string) => method === 'POST' || method === 'PUT' || method === 'PATCH';

function objectArbitrary(schema: JsonSchema | undefined, known: KnownValues): fc.Arbitrary<Record<string, unknown>> {
  if (!schema) return fc.constant({});
  return valueFor(schema, '', known) as fc.Arbitrary<Record<string, unknown>>;
}

/** Text-part hostile values: percent-encoded forms, plus the JSON strings that can be encoded. */
const NASTY_TEXT_ARB: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_TEXT) },
  { weight: 1, arbitrary: fc.constantFrom(...NASTY_JSON.filter((v): v is string => typeof v === 'string' && v.length < 20_000 && wellFormed(v))) },
);

/** One generator per route: a plausible request, then (usually) one hostile change. */
export function requestArbitrary(route: FuzzRoute, known: KnownValues): fc.Arbitrary<FuzzCase> {
  const base = fc.record({
    params: objectArbitrary(route.params, known),
    query: objectArbitrary(route.query, known),
    headers: objectArbitrary(route.headers, known),
    body: route.body ? valueFor(route.body, '', known) : hasBody(route.method) ? fc.constant({}) : fc.constant(undefined),
  });
  return base.chain((spec) => {
    const slots: Array<[part: 'params' | 'query' | 'body', path: string[]]> = [];
    for (const k of Object.keys((route.params?.['properties'] as object | undefined) ?? {})) slots.push(['params', [k]]);
    for (const k of Object.keys((route.query?.['properties'] as object | undefined) ?? {})) slots.push(['query', [k]]);
    if (hasBody(route.method)) {
      slots.push(['body', []]);
      for (const k of Object.keys((route.body?.['properties'] as object | undefined) ?? {})) slots.push(['body', [k]]);
      if (isPlainObject(spec.body)) {
        for (const [k, v] of Object.entries(spec.body)) if (isPlainObject(v)) for (const inner of Object.keys(v)) slots.push(['body', [k, inner]]);
      }
    }
    const unmutated: RequestSpec = { ...spec, mutation: 'none' };
    const plain = fc.constant(unmutated);
    const field =
      slots.length === 0
        ? plain
        : fc.constantFrom(...slots).chain(([part, path]) =>
            (part === 'body' ? fc.constantFrom(...NASTY_JSON) : NASTY_TEXT_ARB).map((value) => withValue(unmutated, part, path, value)),
          );
    const extra = fc
      .constantFrom('__proto__', 'constructor', 'unexpected_field')
      .map((key): RequestSpec => {
        if (hasBody(route.method) && isPlainObject(spec.body)) {
          return { ...spec, body: new Entries([...Object.entries(spec.body), [key, { polluted: true }]]), mutation: `body key ${key}` };
        }
        return { ...spec, query: { ...spec.query, [key]: '1' }, mutation: `query key ${key}` };
      });
    const options: Array<{ weight: number; arbitrary: fc.Arbitrary<RequestSpec> }> = [
      { weight: 2, arbitrary: plain },
      { weight: 6, arbitrary: field },
      { weight: 1, arbitrary: extra },
    ];
    if (hasBody(route.method)) {
      options.push({ weight: 1, arbitrary: fc.constantFrom(...NASTY_CONTENT_TYPES).map((contentType) => ({ ...spec, contentType, mutation: `content-type ${contentType}` })) });
      options.push({ weight: 1, arbitrary: fc.constantFrom(...NASTY_RAW_BODIES).map((rawBody) => ({ ...spec, rawBody, mutation: `raw body ${short(rawBody)}` })) });
    }
    return fc.oneof(...options).map((s) => new FuzzCase(s));
  });
}

function withValue(spec: RequestSpec, part: 'params' | 'query' | 'body', path: string[], value: unknown): RequestSpec {
  const mutation = `${part}${path.map((p) => `.${p}`).join('')} = ${short(value)}`;
  if (part !== 'body') return { ...spec, [part]: { ...spec[part], [path[0]!]: value }, mutation };
  if (path.length === 0) return { ...spec, body: value, mutation };
  const body = isPlainObject(spec.body) ? { ...spec.body } : {};
  if (path.length === 1) body[path[0]!] = value;
  else body[path[0]!] = { ...(isPlainObject(body[path[0]!]) ? (body[path[0]!] as object) : {}), [path[1]!]: value };
  return { ...spec, body, mutation };
}

const encodeText = (v: unknown): string => {
  if (v instanceof RawText) return v.text;
  const text = typeof v === 'string' ? v : v instanceof Raw ? v.text : JSON.stringify(v) ?? '';
  return wellFormed(text) ? encodeURIComponent(text) : '%ED%A0%80';
};

/** Header values must be printable text for the HTTP layer to carry them at all. */
const headerText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '').replace(/[^\x20-\x7e]/g, '?').slice(0, 1000);

export interface BuiltRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

export function buildRequest(route: FuzzRoute, spec: RequestSpec, credentials: Record<string, string>): BuiltRequest {
  const path = route.url.replace(/:([A-Za-z_]+)/g, (_m, name: string) => (spec.params[name] === undefined ? 'missing' : encodeText(spec.params[name])));
  const query = Object.entries(spec.query)
    .filter(([, v]) => v !== undefined)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((item) => `${encodeURIComponent(k)}=${encodeText(item)}`))
    .join('&');
  const headers: Record<string, string> = { ...credentials };
  for (const [k, v] of Object.entries(spec.headers)) if (v !== undefined) headers[k] = headerText(v);
  let payload: string | undefined;
  if (spec.rawBody !== undefined) payload = spec.rawBody;
  else if (spec.body !== undefined && hasBody(route.method)) {
    payload = route.page && isPlainObject(spec.body) ? formEncode(spec.body) : renderJson(spec.body);
  }
  if (payload !== undefined) {
    const type = spec.contentType !== undefined ? spec.contentType : route.page ? 'application/x-www-form-urlencoded' : 'application/json';
    if (type !== null) headers['content-type'] = type;
  }
  return { method: route.method, url: query ? `${path}?${query}` : path, headers, ...(payload !== undefined ? { payload } : {}) };
}

function formEncode(body: Record<string, unknown>): string {
  return Object.entries(body)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeText(v)}`)
    .join('&');
}

export interface Reply {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

export async function inject(app: App, req: BuiltRequest): Promise<Reply> {
  const res = await app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, ...(req.payload !== undefined ? { payload: req.payload } : {}) });
  return { statusCode: res.statusCode, headers: res.headers, body: res.body };
}

/** Over real HTTP, for event streams: an open stream is cut as soon as its headers arrive. */
export function sendOverHttp(baseUrl: string, req: BuiltRequest): Promise<Reply> {
  const target = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const r = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (res) => {
      const headers = res.headers as Reply['headers'];
      if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        res.destroy();
        resolve({ statusCode: res.statusCode ?? 0, headers, body: '' });
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('error', reject);
    if (req.payload !== undefined) r.write(req.payload);
    r.end();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Database checksums
// ---------------------------------------------------------------------------------------------------------------

export interface ChecksumOptions {
  /** Tables left out (the audit chain legitimately records every request, refused ones included). */
  excludeTables: (table: string) => boolean;
  /** Columns left out everywhere (`last_used_at`: a credential used for a refused request was still used). */
  excludeColumns: ReadonlySet<string>;
}

/**
 * One query for the whole database: per table, its row count and the md5 of its rows' text, sorted. Built once
 * from information_schema (the migrations have run by then).
 */
export async function checksummer(db: Kysely<never>, opts: ChecksumOptions): Promise<() => Promise<Record<string, string>>> {
  const cols = await sql<{ table_name: string; column_name: string }>`
    select c.table_name, c.column_name from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'
    order by c.table_name, c.ordinal_position`.execute(db);
  const byTable = new Map<string, string[]>();
  for (const { table_name, column_name } of cols.rows) {
    if (opts.excludeTables(table_name) || opts.excludeColumns.has(column_name)) continue;
    byTable.set(table_name, [...(byTable.get(table_name) ?? []), column_name]);
  }
  assert.ok(byTable.size > 0, 'the checksum covers some tables');
  const q = (id: string) => `"${id.replace(/"/g, '""')}"`;
  const text = [...byTable]
    .map(
      ([table, columns]) =>
        `select '${table}' as t, count(*)::text || ':' || md5(coalesce(string_agg(r::text, E'\\n' order by r::text), '')) as h ` +
        `from (select ${columns.map(q).join(', ')} from ${q(table)}) r`,
    )
    .join(' union all ');
  return async () => {
    const res = await sql.raw<{ t: string; h: string }>(text).execute(db);
    return Object.fromEntries(res.rows.map((r) => [r.t, r.h]));
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------------------------------------------

export interface FuzzTarget {
  send(route: FuzzRoute, req: BuiltRequest): Promise<Reply>;
  /** Valid credentials (and routing headers) for this route and case; may create fixtures (then say so). */
  credentials(route: FuzzRoute, spec: RequestSpec): Promise<{ headers: Record<string, string>; createdFixtures?: boolean }>;
  checksum(): Promise<Record<string, string>>;
  /** A documented 5xx of the test configuration, named by route and code. */
  allowed5xx?(route: FuzzRoute, code: string | undefined): boolean;
}

function assertErrorBody(res: Reply, context: string): string | undefined {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    assert.fail(`an error answer is not JSON: ${context}`);
  }
  assert.ok(body !== null && typeof body === 'object' && !Array.isArray(body), `an error body is an object: ${context}`);
  assert.equal(typeof body['error'], 'string', `error is a string: ${context}`);
  assert.ok((body['error'] as string).length > 0, `error is not empty: ${context}`);
  const code = body['code'] as string;
  assert.ok(Object.hasOwn(ERROR_CODES, code), `code ${code} is in the closed table: ${context}`);
  assert.equal(ERROR_CODES[code as keyof typeof ERROR_CODES].status, res.statusCode, `code ${code} has the answer's status: ${context}`);
  assert.equal(body['request_id'], res.headers['x-request-id'], `request_id matches X-Request-Id: ${context}`);
  return code;
}

/** Runs `runs` generated cases against one route and checks every answer. */
export async function fuzzRoute(target: FuzzTarget, route: FuzzRoute, known: KnownValues, runs: number): Promise<void> {
  let state: Record<string, string> | undefined;
  await fc.assert(
    fc.asyncProperty(requestArbitrary(route, known), async (c) => {
      const spec = c.spec;
      const { headers, createdFixtures } = await target.credentials(route, spec);
      if (createdFixtures) state = undefined;
      const before = state ?? (await target.checksum());
      const req = buildRequest(route, spec, headers);
      const res = await target.send(route, req);
      const context = `${route.method} ${route.url} [${spec.mutation}] → ${res.statusCode} ${res.body.slice(0, 300)}`;
      let code: string | undefined;
      if (res.statusCode >= 400) {
        if (route.page && String(res.headers['content-type'] ?? '').startsWith('text/html')) {
          assert.ok(res.body.length > 0, `a page error is a page: ${context}`);
        } else {
          code = assertErrorBody(res, context);
        }
      }
      assert.ok(res.statusCode < 500 || target.allowed5xx?.(route, code) === true, `no 5xx: ${context}`);
      if (res.statusCode >= 400) {
        const after = await target.checksum();
        const changed = Object.keys({ ...before, ...after }).filter((t) => before[t] !== after[t]);
        assert.deepEqual(changed, [], `a ${res.statusCode} changed nothing, yet these tables changed: ${context}`);
        state = after;
      } else {
        state = undefined; // a success may change anything; measure afresh before the next case
      }
    }),
    { numRuns: runs, endOnFailure: true, ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}) },
  );
}
