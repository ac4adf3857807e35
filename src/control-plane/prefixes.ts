import type { App } from '../core/http/app.js';

/**
 * The `/cp/*` alias is deprecated (reference §3.7, "RFC #61"). Its responses say so with the IETF Deprecation
 * header (RFC 9745: `@<epoch seconds>` of the date it was deprecated), an RFC 8594 Sunset date after which it may
 * be removed, and a Link to the same resource under `/api/v1`. Bodies are identical.
 */
export const LEGACY_DEPRECATED_AT = new Date('2026-11-01T00:00:00Z');
export const LEGACY_SUNSET_AT = new Date('2027-11-01T00:00:00Z');

export function deprecationHeaders(scope: App, legacyPrefix: string, successorPrefix: string): void {
  const deprecation = `@${Math.floor(LEGACY_DEPRECATED_AT.getTime() / 1000)}`;
  const sunset = LEGACY_SUNSET_AT.toUTCString();
  scope.addHook('onSend', async (request, reply, payload) => {
    const path = request.url.split('?')[0] ?? request.url;
    reply.header('deprecation', deprecation);
    reply.header('sunset', sunset);
    if (path.startsWith(legacyPrefix)) reply.header('link', `<${successorPrefix}${path.slice(legacyPrefix.length)}>; rel="successor-version"`);
    return payload;
  });
  // One document describes one API: the alias is announced in the description, not listed twice.
  scope.addHook('onRoute', (route) => {
    route.schema = { ...(route.schema ?? {}), hide: true };
  });
}
