import { readCredentials, writeCredentials, type Profile } from '../config.js';
import { DEFAULT_CP_URL, tenantUrlFor, type CliContext } from '../context.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Where a sign-in command saves to and what it signs in to. Unlike `ctx.resolve()`, the profile may not exist yet
 * (`auth use-key --profile staging` creates it), and another profile's addresses never leak into a new one.
 */
export interface SignInTarget {
  profileName: string;
  existing: Profile;
  cpUrl: string;
  /** The tenant URL given explicitly (flag or environment), else the target profile's, else null. */
  apiUrl: string | null;
  orgId: string | null;
  orgSlug: string | null;
}

export function signInTarget(ctx: CliContext): SignInTarget {
  const file = readCredentials(ctx.credentialsFile);
  const profileName = ctx.options.profile ?? ctx.env['MOLECULE_PROFILE'] ?? file.current ?? 'default';
  const existing = file.profiles[profileName] ?? {};
  const org = ctx.options.org;
  const orgId = (org && UUID.test(org) ? org : undefined) ?? ctx.env['MOLECULE_ORG_ID'] ?? (org ? undefined : existing.org_id) ?? null;
  const orgSlug = (org && !UUID.test(org) ? org : undefined) ?? ctx.env['MOLECULE_ORG_SLUG'] ?? (org ? undefined : existing.org_slug) ?? null;
  const cpUrl = (ctx.options.cpUrl ?? ctx.env['MOLECULE_CP_URL'] ?? existing.cp_url ?? DEFAULT_CP_URL).replace(/\/+$/, '');
  const explicit = ctx.options.apiUrl ?? ctx.env['MOLECULE_API_URL'] ?? null;
  const apiUrl = (explicit ?? (org ? null : existing.api_url) ?? null)?.replace(/\/+$/, '') ?? null;
  return { profileName, existing, cpUrl, apiUrl, orgId, orgSlug };
}

/** The tenant URL for an org reached through the control plane's edge, unless one was given. */
export function tenantUrl(target: SignInTarget, slug: string | null): string | null {
  return target.apiUrl ?? (slug ? tenantUrlFor(target.cpUrl, slug) : null);
}

/** Replaces a profile and makes it the current one (like `gh auth login` switching the active account). */
export function saveProfile(ctx: CliContext, name: string, profile: Profile): void {
  const data = readCredentials(ctx.credentialsFile);
  data.profiles[name] = profile;
  data.current = name;
  writeCredentials(data, ctx.credentialsFile);
}

/** The first 13 characters of a key (its public prefix, as the server lists it): never the secret part. */
export function keyPrefix(key: string): string {
  return key.slice(0, 13);
}
