import { Type } from 'typebox';
import { ERROR_CODES, type ErrorCode } from '../errors.js';

const ErrorRef = Type.Unsafe<Record<string, unknown>>({ $ref: 'ErrorBody#' });

/**
 * The error responses a route can give, for its OpenAPI entry, derived from the codes it names. Status codes
 * come from the one error table, so the document cannot drift from what the handler sends.
 */
export function errorResponses(...codes: ErrorCode[]): Record<number, typeof ErrorRef> {
  const out: Record<number, typeof ErrorRef> = {};
  for (const code of codes) out[ERROR_CODES[code].status] = ErrorRef;
  return out;
}

/** Errors every authenticated route can answer with. */
export const AUTH_ERRORS: ErrorCode[] = ['TENANT_ORG_HEADER_REQUIRED', 'ADMIN_AUTH_REQUIRED', 'ROLE_FORBIDDEN', 'ORIGIN_FORBIDDEN', 'RATE_LIMITED', 'INTERNAL', 'platform_unavailable'];
