/** Minimal RFC 6265 cookie handling: the services read one cookie (`mcp_session`) and set it with fixed attributes. */

export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    return value === '' ? null : value;
  }
  return null;
}

export interface CookieAttributes {
  maxAgeSeconds: number;
  secure: boolean;
  /** Sent to this domain and its subdomains (tenant hosts); omitted for host-only cookies. */
  domain?: string | undefined;
}

export function serializeCookie(name: string, value: string, attrs: CookieAttributes): string {
  const parts = [`${name}=${value}`, 'Path=/', `Max-Age=${Math.max(0, Math.floor(attrs.maxAgeSeconds))}`, 'HttpOnly', 'SameSite=Lax'];
  if (attrs.maxAgeSeconds <= 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  if (attrs.domain) parts.push(`Domain=${attrs.domain}`);
  if (attrs.secure) parts.push('Secure');
  return parts.join('; ');
}
