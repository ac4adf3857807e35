import { ApiError, createControlPlaneClient, createTenantClient, NetworkError } from '../../src/sdk/client';

/** The org this page belongs to: the tenant writes its slug into the page's meta tag; empty on the CP host. */
export const ORG_SLUG = document.querySelector<HTMLMetaElement>('meta[name="molecule-org-slug"]')?.content ?? '';
export const ON_TENANT = ORG_SLUG !== '';
/** The CP's OpenID Connect provider, when one is configured (the CP writes it into the page); empty: password only. */
export const OIDC_PROVIDER = document.querySelector<HTMLMetaElement>('meta[name="molecule-oidc"]')?.content ?? '';

/**
 * The CP's API. On the CP host: /api/v1 on this origin. On a tenant host: the same calls through the tenant's /cp/*
 * proxy (the CP's /cp alias), so the session cookie the CP sets is this host's own (README, "Console").
 */
export const cp = createControlPlaneClient({
  baseUrl: window.location.origin,
  retry: { retries: 1 },
  fetch: async (request) => {
    if (!ON_TENANT) return fetch(request);
    const url = new URL(request.url);
    url.pathname = url.pathname.replace(/^\/api\/v1\//, '/cp/');
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
    return fetch(url, { method: request.method, headers: request.headers, body, signal: request.signal });
  },
});

/** This org's tenant API, same origin, routed by the org slug header; authenticated by the session cookie. */
export const tenant = createTenantClient({ baseUrl: window.location.origin, orgSlug: ORG_SLUG, retry: { retries: 1 } });

export { ApiError, NetworkError };

/** One line for an error: the server's message, and its request id when it has one. */
export function describeError(err: unknown): { message: string; requestId: string | null; status: number | null } {
  if (err instanceof ApiError) return { message: err.message, requestId: err.requestId, status: err.status };
  if (err instanceof NetworkError) return { message: err.message, requestId: null, status: null };
  return { message: err instanceof Error ? err.message : String(err), requestId: null, status: null };
}

/** Same rule as the server's SLUG_PATTERN (src/control-plane/orgs/schemas.ts). */
export const SLUG_PATTERN = /^[a-z][a-z0-9-]{2,31}$/;
export const SLUG_RULE = '3–32 characters: a lowercase letter, then lowercase letters, digits or hyphens';
