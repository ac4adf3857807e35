import type { ErrorCode } from '../../core/errors.js';

/** What every tenant-callback route can answer with besides its own errors (the tier: a tenant admin token). */
export const TENANT_TIER_ERRORS: ErrorCode[] = ['ADMIN_AUTH_REQUIRED', 'INVALID_ADMIN_AUTH', 'platform_unavailable'];

/** The OpenAPI security of the tenant tier. */
export const TENANT_SECURITY = [{ tenantAdminToken: [] }];
