/**
 * `return_to` accepts only same-site targets (reference §2.1, `isSafeReturnTo`): a path on this site, or an
 * absolute URL on the CP's own origin or on a tenant host (`*.<TENANT_DOMAIN>`) with the CP's scheme. Everything
 * else — other hosts, scheme changes, `//host` and backslash tricks, credentials in the URL — is refused.
 */
export function safeReturnTo(candidate: string | undefined | null, publicUrl: string, tenantDomain: string | undefined): string | null {
  if (!candidate) return null;
  if (candidate.length > 2048 || /[\u0000-\u001f\u007f\\]/.test(candidate)) return null;
  const base = new URL(publicUrl);
  if (candidate.startsWith('/')) {
    if (candidate.startsWith('//')) return null;
    const resolved = new URL(candidate, base);
    return resolved.origin === base.origin ? resolved.pathname + resolved.search + resolved.hash : null;
  }
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if (url.username || url.password) return null;
  if (url.protocol !== base.protocol) return null;
  if (url.origin === base.origin) return url.toString();
  if (tenantDomain && (url.hostname === tenantDomain || url.hostname.endsWith(`.${tenantDomain}`))) return url.toString();
  return null;
}
