import type { ErrorCode } from '../../core/errors.js';

/** What a route that takes partner keys can answer with because of the key (reference §3.6). */
export const PARTNER_KEY_ERRORS: ErrorCode[] = ['INVALID_API_KEY', 'API_KEY_EXPIRED', 'SCOPE_MISSING', 'RATE_LIMITED'];
