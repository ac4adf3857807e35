import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { ApiError, request } from '../../sdk/index.js';
import { MANAGED_KEY_LIFETIME_MS, type CliContext, type ManagedProfile } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';
import { ask } from '../prompts.js';
import type { SignInTarget } from './target.js';

export interface Session {
  token: string;
  expiresAt: string | null;
  email: string | null;
  /** The org the user picked in the browser (device flow), if any. */
  orgSlug: string | null;
}

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** The `mcp_session` value from a sign-in response's Set-Cookie headers. */
export function sessionFromSetCookie(headers: Headers): string | null {
  for (const c of headers.getSetCookie()) {
    const m = /^mcp_session=([^;]*)/.exec(c);
    if (m && m[1]) return decodeURIComponent(m[1]);
  }
  return null;
}

/** Email and password (POST /api/v1/auth/login): the session comes back as the `mcp_session` cookie. */
export async function passwordLogin(ctx: CliContext, cpUrl: string, email: string, password: string): Promise<Session> {
  const { data, response } = await ctx.cpClientWith(cpUrl, null).POST('/api/v1/auth/login', { body: { email, password } });
  const token = sessionFromSetCookie(response.headers);
  if (!token) throw new CliError('the control plane answered the sign-in without a session cookie', EXIT.ERROR, 'NO_SESSION');
  return { token, expiresAt: data?.expires_at ?? null, email: data?.email ?? email, orgSlug: null };
}

function openBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // no opener: the URL is printed anyway
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The device authorization grant (RFC 8628): the CLI shows a code and a URL, the user approves in a browser, the
 * CLI polls at the server's interval (5 s more after each `slow_down`) until it gets a session or a final refusal.
 */
export async function deviceLogin(ctx: CliContext, cpUrl: string, opts: { browser: boolean }): Promise<Session> {
  const cp = ctx.cpClientWith(cpUrl, null);
  const start = (await request(cp, 'POST', '/api/v1/auth/device/code', { body: { client_name: `molecule CLI on ${hostname()}` } })).json as {
    device_code: string;
    user_code: string;
    verification_uri: string;
    verification_uri_complete?: string;
    expires_in: number;
    interval?: number;
  };
  const url = start.verification_uri_complete ?? start.verification_uri;
  if (ctx.out.json) ctx.out.note(JSON.stringify({ verification_uri: start.verification_uri, verification_uri_complete: url, user_code: start.user_code, expires_in: start.expires_in }));
  else {
    ctx.out.note(`To sign in, open ${ctx.out.style('bold', start.verification_uri, ctx.out.stderr)} and enter the code ${ctx.out.style('bold', start.user_code, ctx.out.stderr)}`);
    if (url !== start.verification_uri) ctx.out.note(`(or open ${url})`);
  }
  if (opts.browser && ctx.out.interactive) openBrowser(url);
  let interval = Math.max(1, start.interval ?? 5) * 1000;
  const deadline = Date.now() + start.expires_in * 1000;
  if (!ctx.out.json) ctx.out.note(ctx.out.style('dim', 'waiting for you to approve in the browser…', ctx.out.stderr));
  while (Date.now() < deadline) {
    await sleep(interval);
    try {
      const res = await request(cp, 'POST', '/api/v1/auth/device/token', { body: { device_code: start.device_code, grant_type: DEVICE_GRANT } });
      const body = res.json as { access_token: string; expires_in?: number; org_slug?: string | null; user?: { email?: string } };
      return {
        token: body.access_token,
        expiresAt: body.expires_in ? new Date(Date.now() + body.expires_in * 1000).toISOString() : null,
        email: body.user?.email ?? null,
        orgSlug: body.org_slug ?? null,
      };
    } catch (err) {
      const code = err instanceof ApiError && err.status === 400 ? (err.body as { error?: string } | null)?.error : undefined;
      if (code === 'authorization_pending') continue;
      if (code === 'slow_down') {
        interval += 5000;
        continue;
      }
      if (code === 'access_denied') throw new CliError('the sign-in was denied in the browser', EXIT.UNAUTHENTICATED, 'ACCESS_DENIED');
      if (code === 'expired_token') break;
      throw err;
    }
  }
  throw new CliError('the code expired before it was approved: run `molecule auth login` again', EXIT.UNAUTHENTICATED, 'EXPIRED_TOKEN');
}

interface OrgRow {
  id: string;
  slug: string;
  name: string;
}

/** The org to use: --org, else the one picked in the browser, else the only one, else a prompt, else a usage error. */
export async function pickOrg(ctx: CliContext, target: SignInTarget, session: Session, cpUrl: string): Promise<OrgRow> {
  const { data } = await ctx.cpClientWith(cpUrl, { type: 'session', token: session.token }).GET('/api/v1/orgs');
  const orgs = (data ?? []) as unknown as OrgRow[];
  const wanted = ctx.options.org ?? target.orgSlug ?? target.orgId ?? session.orgSlug;
  if (wanted) {
    const org = orgs.find((o) => o.slug === wanted || o.id === wanted);
    if (!org) throw new CliError(`you are not a member of an org "${wanted}"${orgs.length ? ` — yours: ${orgs.map((o) => o.slug).join(', ')}` : ''}`, EXIT.NOT_FOUND, 'ORG_NOT_FOUND');
    return org;
  }
  if (orgs.length === 1) return orgs[0]!;
  if (orgs.length === 0) throw new CliError('you belong to no org yet: create one in the console, or `molecule org create`', EXIT.NOT_FOUND, 'NO_ORG');
  if (!ctx.out.interactive) throw new CliError(`you belong to several orgs — pass --org with one of: ${orgs.map((o) => o.slug).join(', ')}`, EXIT.USAGE, 'ORG_REQUIRED');
  for (const [i, o] of orgs.entries()) ctx.out.note(`  ${i + 1}. ${o.slug}  ${o.name}`);
  const answer = (await ask('Which org? (number or slug)')).trim();
  const org = orgs[Number(answer) - 1] ?? orgs.find((o) => o.slug === answer);
  if (!org) throw new CliError(`no org "${answer}"`, EXIT.USAGE);
  return org;
}

/**
 * Mints the CLI's own short-lived org key (`cli:<host>`) on the org's tenant with the session, revoking the one an
 * earlier login of this profile minted. Returns the profile to save.
 */
export async function mintManagedKey(
  ctx: CliContext,
  target: SignInTarget,
  session: Session,
  org: OrgRow,
  apiUrl: string,
  role: 'admin' | 'editor' | 'reader',
): Promise<ManagedProfile> {
  const tenant = ctx.tenantClientWith(apiUrl, { type: 'session', token: session.token }, { orgId: org.id });
  const { data } = await tenant.POST('/org/tokens', {
    body: { name: `cli:${hostname()}`, role, expires_at: new Date(Date.now() + MANAGED_KEY_LIFETIME_MS).toISOString() },
  });
  const minted = data as unknown as { id: string; prefix: string; role: string; auth_token: string; expires_at: string | null; created_at: string; status?: string };
  if (minted.status === 'pending_approval') throw new CliError('minting the CLI key waits for an approval; approve it, then sign in again', EXIT.ERROR, 'PENDING_APPROVAL');
  const old = target.existing as ManagedProfile;
  if (old.key_managed && old.key_id && old.api_url === apiUrl && old.key_id !== minted.id) {
    // The previous login's key is no longer needed; a failure here only leaves it to expire.
    await tenant.DELETE('/org/tokens/{id}', { params: { path: { id: old.key_id } } }).catch(() => undefined);
  }
  return {
    cp_url: target.cpUrl,
    api_url: apiUrl,
    org_id: org.id,
    org_slug: org.slug,
    session: session.token,
    session_expires_at: session.expiresAt,
    ...(session.email ? { user_email: session.email } : {}),
    api_key: minted.auth_token,
    key_id: minted.id,
    key_expires_at: minted.expires_at,
    key_created_at: minted.created_at,
    key_managed: true,
    key_prefix: minted.prefix,
    key_role: minted.role,
  };
}
