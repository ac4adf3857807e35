import type { ErrorCode } from '../../core/errors.js';

/** What every CP admin route can answer with besides its own errors. */
export const ADMIN_ERRORS: ErrorCode[] = ['ADMIN_AUTH_REQUIRED', 'INVALID_ADMIN_AUTH', 'TENANT_CREDENTIAL_REJECTED', 'PARTNER_KEY_NOT_ACCEPTED', 'RATE_LIMITED', 'platform_unavailable'];
