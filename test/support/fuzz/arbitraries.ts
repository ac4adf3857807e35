/**
 * fast-check arbitraries derived from a route's JSON Schemas (as the OpenAPI documents carry them), plus the
 * hostile values issue 8 is about. A generated request is mostly plausible — fixtures' real ids, values inside the
 * declared bounds — so it reaches handlers and the datastore; then usually one part of it is made hostile.
 */
import fc from 'fast-check';

export type JsonSchema = Record<string, unknown>;

/** A JSON fragment rendered verbatim: `1e309`, a 5,000-deep object. JSON.stringify cannot write these. */
export class Raw {
  constructor(readonly text: string) {}
}

/** An object written key by key, so keys like `__proto__` are sent as they are. */
export class Entries {
  constructor(readonly pairs: ReadonlyArray<readonly [string, unknown]>) {}
}

/** Renders a generated body to JSON text, honouring Raw and Entries. */
export function renderJson(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof Entries) return `{${value.pairs.map(([k, v]) => `${JSON.stringify(k)}:${renderJson(v)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map(renderJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${renderJson(v)}`).join(',')}}`;
  }
  if (value === undefined) return 'null';
  return JSON.stringify(value);
}

/** A query-string or path value sent exactly as written (already percent-encoded, or deliberately malformed). */
export class RawText {
  constructor(readonly text: string) {}
}

export interface KnownValues {
  /** Values that exist in the fixtures for a field or parameter of this name (ids, slugs, tokens). */
  (name: string): readonly unknown[] | undefined;
}

const deepObject = (depth: number) => new Raw('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
const deepArray = (depth: number) => new Raw('['.repeat(depth) + ']'.repeat(depth));

/** Hostile JSON values for any body field. */
export const NASTY_JSON: readonly unknown[] = [
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfff',
  'a\ud800b',
  '\udc00\ud800',
  'x'.repeat(1_000_000), // a 1 MB string that still fits the body limit
  'x'.repeat(1 << 20), // 1 MiB: with the rest of the body, over the limit
  '',
  ' ',
  '\n\r\t',
  '😀'.repeat(50),
  '‮rtl',
  "'; drop table workspaces; --",
  '../../../../etc/passwd',
  '%00',
  new Raw('1e309'),
  new Raw('-1e309'),
  new Raw('99999999999999999999'),
  new Raw('9223372036854775808'),
  new Raw('-9223372036854775809'),
  new Raw('1e-400'),
  new Raw('-0'),
  2 ** 53,
  -1,
  0.5,
  true,
  null,
  [],
  {},
  [[[]]],
  { a: 1 },
  deepObject(5000),
  deepArray(5000),
  deepObject(33),
  new Entries([['__proto__', { polluted: true }]]),
  new Entries([['constructor', new Entries([['prototype', { polluted: true }]])]]),
];

/** Hostile query-string and path values (percent-encoded as sent). */
export const NASTY_TEXT: readonly RawText[] = [
  '%00',
  'a%00b',
  '%ED%A0%80', // the UTF-8 bytes of a lone surrogate: invalid UTF-8
  '%C0%80', // an over-long NUL
  '%FF',
  '1e309',
  '-1e309',
  '99999999999999999999',
  '9223372036854775808',
  'NaN',
  'Infinity',
  '-0',
  '0x10',
  '%201',
  '',
  'x'.repeat(10_000),
  '%',
  '%ZZ',
  '..',
  '%2e%2e',
  '%2F',
  '__proto__',
  'constructor',
  '%5B%5D',
  'true',
  '-1',
  '1.5',
].map((t) => new RawText(t));

/** Content types a JSON route must refuse cleanly. */
export const NASTY_CONTENT_TYPES: readonly (string | null)[] = [
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=utf-16',
  'application/jsonx',
  null,
];

/** Bodies that are not a JSON object, or not JSON at all. */
export const NASTY_RAW_BODIES: readonly string[] = [
  '{',
  '{"a":',
  '[]',
  '"text"',
  'null',
  '1e309',
  'true',
  '{"a":1,"a":2}',
  '\ufeff{}',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  ' '.repeat(2 * 1024 * 1024) + '{}',
  '{' + '"k":1,'.repeat(200_000) + '"z":1}',
];

const SAFE_MAX = Number.MAX_SAFE_INTEGER;

function typesOf(schema: JsonSchema): string[] {
  const t = schema['type'];
  return Array.isArray(t) ? (t as string[]) : typeof t === 'string' ? [t] : [];
}

function textArbitrary(schema: JsonSchema): fc.Arbitrary<string> {
  const min = typeof schema['minLength'] === 'number' ? schema['minLength'] : 0;
  const max = typeof schema['maxLength'] === 'number' ? Math.min(schema['maxLength'], 64) : 64;
  const fit = (s: string) => (s.length > max && typeof schema['maxLength'] === 'number' ? s.slice(0, schema['maxLength']) : s);
  if (typeof schema['pattern'] === 'string') {
    try {
      return fc.stringMatching(new RegExp(schema['pattern'], 'u'), { size: 'small' }).map(fit);
    } catch {
      // A pattern fast-check cannot generate from: plain strings (mostly refused, which is still a case).
    }
  }
  switch (schema['format']) {
    case 'date-time':
      return fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
    case 'email':
      return fc.emailAddress().map(fit);
    case 'uuid':
      return fc.uuid();
  }
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ minLength: min, maxLength: Math.max(min, max) }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: min, maxLength: Math.max(min, max) }) },
  );
}

function numberArbitrary(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const lo = typeof schema['minimum'] === 'number' ? Math.max(schema['minimum'], -SAFE_MAX) : -(2 ** 31);
  const hi = typeof schema['maximum'] === 'number' ? Math.min(schema['maximum'], SAFE_MAX) : 2 ** 31;
  if (integer) {
    // Mostly small values (what a client sends), sometimes the bounds themselves.
    const [smallLo, smallHi] = [Math.max(lo, -1000), Math.min(hi, 1000)];
    const small = smallLo <= smallHi ? fc.integer({ min: smallLo, max: smallHi }) : fc.constant(lo);
    return fc.oneof({ weight: 4, arbitrary: small }, { weight: 1, arbitrary: fc.constantFrom(lo, hi) });
  }
  return fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true });
}

/** A plausible value for a schema (one that mostly validates), preferring fixtures' real values by field name. */
export function valueFor(schema: JsonSchema | undefined, name: string, known: KnownValues, depth = 0): fc.Arbitrary<unknown> {
  const generated = generatedFor(schema ?? {}, name, known, depth);
  const real = known(name);
  return real && real.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...real) }, { weight: 1, arbitrary: generated }) : generated;
}

function generatedFor(schema: JsonSchema, name: string, known: KnownValues, depth: number): fc.Arbitrary<unknown> {
  if ('const' in schema) return fc.constant(schema['const']);
  if (Array.isArray(schema['enum'])) return fc.constantFrom(...(schema['enum'] as unknown[]));
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = schema[key];
    if (Array.isArray(branches) && branches.length > 0) return fc.oneof(...branches.map((b) => generatedFor(b as JsonSchema, name, known, depth)));
  }
  const types = typesOf(schema);
  if (types.length > 1) return fc.oneof(...types.map((t) => generatedFor({ ...schema, type: t }, name, known, depth)));
  switch (types[0]) {
    case 'string':
      return textArbitrary(schema);
    case 'integer':
      return numberArbitrary(schema, true);
    case 'number':
      return numberArbitrary(schema, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const items = (schema['items'] as JsonSchema | undefined) ?? {};
      const min = typeof schema['minItems'] === 'number' ? schema['minItems'] : 0;
      const max = Math.max(min, Math.min(typeof schema['maxItems'] === 'number' ? schema['maxItems'] : 4, 4));
      return fc.array(valueFor(items, name, known, depth + 1), { minLength: min, maxLength: max });
    }
    case 'object':
      return objectFor(schema, known, depth);
  }
  // No declared type (a value the handler checks itself): any small JSON value.
  return fc.jsonValue({ maxDepth: 2 });
}

function objectFor(schema: JsonSchema, known: KnownValues, depth: number): fc.Arbitrary<unknown> {
  const properties = (schema['properties'] as Record<string, JsonSchema> | undefined) ?? {};
  const required = new Set((schema['required'] as string[] | undefined) ?? []);
  if (Object.keys(properties).length === 0) {
    if (depth > 3) return fc.constant({});
    const extra = schema['additionalProperties'];
    const keys = schema['propertyNames'] ? textArbitrary(schema['propertyNames'] as JsonSchema) : fc.string({ maxLength: 12 });
    const values = extra && typeof extra === 'object' && Object.keys(extra).length > 0 ? valueFor(extra as JsonSchema, '', known, depth + 1) : fc.jsonValue({ maxDepth: 3 });
    return fc.dictionary(keys, values, { maxKeys: 4 });
  }
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, s] of Object.entries(properties)) model[key] = valueFor(s, key, known, depth + 1);
  return fc.record(model, { requiredKeys: Object.keys(properties).filter((k) => required.has(k)) });
}
