/**
 * Request-schema building blocks that stop hostile input at the edge, with a 400 naming the field, instead of
 * deep in the datastore with a 500 (issue 8: a NUL byte, a lone surrogate, an out-of-range number or a
 * 5,000-deep object each reached PostgreSQL, which refused them as errors the API did not expect).
 *
 * - `Text()` — every free-form string a route stores or queries. PostgreSQL `text` cannot hold U+0000, and a lone
 *   UTF-16 surrogate has no UTF-8 encoding (the driver silently replaces it, so what is stored is not what was
 *   sent; `jsonb` refuses it outright). The check is the custom format `text`, a function rather than a pattern:
 *   linear in the input, no regular expression to backtrack, and it composes with a route's own `pattern`.
 * - `JsonObject()` — free-form JSON objects (`agent_card`, `compute`): at most `maxDepth` levels and `maxBytes`
 *   of JSON, and no NUL or lone surrogate in any key or string. The keyword walks the value iteratively, so a
 *   deep value cannot overflow the stack of the check that refuses it.
 * - Numbers: the validators refuse NaN and ±Infinity (`strictNumbers`), and every integer a route takes carries
 *   a `maximum` (test/input-hardening.test.ts lints both OpenAPI documents for it). The constants below are the
 *   usual bounds.
 */
import type { Ajv, SchemaValidateFunction } from 'ajv';
import { Type, type TStringOptions } from 'typebox';

/** The custom string format every free-form request string carries. */
export const TEXT_FORMAT = 'text';
/** The custom keyword bounding a free-form JSON value; its value is `{maxDepth, maxBytes}`. */
export const JSON_LIMITS_KEYWORD = 'x-json-limits';

/** Largest integer PostgreSQL `integer` (int4) holds. */
export const INT4_MAX = 2_147_483_647;
/** Largest integer that survives the trip through a JS number: the bound for `bigint` ids and cursors. */
export const BIGINT_SAFE_MAX = Number.MAX_SAFE_INTEGER;
/** Bound on `offset` paging parameters: deeper pages are a scan nobody needs. */
export const MAX_OFFSET = 1_000_000;

export const DEFAULT_JSON_MAX_DEPTH = 32;
export const DEFAULT_JSON_MAX_BYTES = 64 * 1024;

/** What a `text` format failure says after the field name. */
export const TEXT_FORMAT_MESSAGE = 'must not contain NUL characters or unpaired UTF-16 surrogates';

/** True when the string holds no U+0000 and no unpaired surrogate: one pass, no regular expression. */
export function isStorableText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return false;
    if (c >= 0xd800 && c <= 0xdfff) {
      if (c >= 0xdc00) return false; // a low surrogate with no high one before it
      const next = s.charCodeAt(i + 1); // NaN past the end
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    }
  }
  return true;
}

/**
 * A free-form request string: refuses NUL and unpaired surrogates (format `text`), plus whatever the caller
 * bounds. Combine with `pattern` freely; a string with its own strict format (`date-time`, `email`) or an
 * allowlist pattern (`^[a-z]…$`) needs no `Text`.
 */
export function Text(options: Omit<TStringOptions, 'format'> = {}) {
  return Type.String({ ...options, format: TEXT_FORMAT });
}

export interface JsonLimits {
  maxDepth: number;
  maxBytes: number;
}

/** A free-form JSON object, stored as given: bounded in depth and size, every key and string storable. */
export function JsonObject(options: Partial<JsonLimits> & { description?: string } = {}) {
  const limits: JsonLimits = { maxDepth: options.maxDepth ?? DEFAULT_JSON_MAX_DEPTH, maxBytes: options.maxBytes ?? DEFAULT_JSON_MAX_BYTES };
  return Type.Unsafe<Record<string, unknown>>({
    type: 'object',
    [JSON_LIMITS_KEYWORD]: limits,
    description: [options.description, `At most ${limits.maxDepth} levels deep and ${limits.maxBytes} bytes of JSON; no NUL or unpaired surrogate in any key or string.`]
      .filter(Boolean)
      .join(' '),
  });
}

/**
 * Why a JSON value breaks the limits, or null. Iterative (an explicit stack), so a value nested far beyond the
 * limit costs one pass up to the limit and never recurses. The size is the length of its JSON text, counted
 * in UTF-16 units as it is walked (an upper bound is all a limit needs).
 */
export function jsonLimitViolation(value: unknown, limits: JsonLimits): string | null {
  const stack: Array<[unknown, number]> = [[value, 1]];
  let size = 0;
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (!isStorableText(v)) return `contains a string with a NUL character or an unpaired surrogate`;
      size += v.length + 2;
    } else if (v === null || typeof v !== 'object') {
      size += String(v).length;
    } else {
      if (depth > limits.maxDepth) return `is nested too deeply (at most ${limits.maxDepth} levels)`;
      if (Array.isArray(v)) {
        size += 2 + v.length;
        for (const item of v) stack.push([item, depth + 1]);
      } else {
        size += 2;
        for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
          if (!isStorableText(k)) return `contains a key with a NUL character or an unpaired surrogate`;
          size += k.length + 4;
          stack.push([item, depth + 1]);
        }
      }
    }
    if (size > limits.maxBytes) return `is too large (at most ${limits.maxBytes} bytes of JSON)`;
  }
  return null;
}

/** Teaches a validator the `text` format and the JSON-limits keyword. Both services' validators get it. */
export function addInputKeywords(ajv: Ajv): void {
  ajv.addFormat(TEXT_FORMAT, { type: 'string', validate: isStorableText });
  const validateLimits: SchemaValidateFunction = (limits: JsonLimits, data: unknown) => {
    const problem = jsonLimitViolation(data, limits);
    validateLimits.errors = problem === null ? [] : [{ keyword: JSON_LIMITS_KEYWORD, message: problem, params: { ...limits } }];
    return problem === null;
  };
  ajv.addKeyword({ keyword: JSON_LIMITS_KEYWORD, schemaType: 'object', errors: true, validate: validateLimits });
}
