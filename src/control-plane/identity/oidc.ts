import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import * as client from 'openid-client';
import type { Logger } from 'pino';
import { ConfigError } from '../../core/config.js';
import { DomainError } from '../../core/errors.js';
import { serializeCookie } from '../../core/http/cookies.js';
import type { ControlPlaneConfig } from '../config.js';
import type { ControlPlaneSchema } from '../db/schema.js';

/**
 * Sign-in through one OpenID Connect provider configured by env: authorization code flow with PKCE (S256), `state`
 * and `nonce`, the ID token validated by openid-client (signature, issuer, audience, expiry, nonce). The login
 * state lives in `oidc_states` (keyed by the sha256 of `state`) and is consumed exactly once by the callback.
 */
export interface OidcLogin {
  /** The name clients pass as `?provider=` (OIDC_PROVIDER_NAME, default `oidc`). */
  readonly provider: string;
  /** Stores a fresh login state and answers the provider's authorization URL for it. */
  begin(input: OidcBeginInput): Promise<OidcBegun>;
  /** Deletes and returns the login state for `state` in one statement; null when unknown, expired or already used. */
  takeState(state: string): Promise<PendingOidcLogin | null>;
  /** Exchanges the code of a callback for tokens, validates the ID token and answers who signed in. */
  complete(pending: PendingOidcLogin, callbackParams: URLSearchParams): Promise<OidcIdentity>;
  close(): Promise<void>;
}

export interface OidcBeginInput {
  /** The callback URL of the prefix the login began on; registered with the provider. */
  redirectUri: string;
  /** Already checked by `safeReturnTo`. */
  returnTo: string | null;
  /** Ask the provider for its sign-up screen when it advertises one (`prompt=create`). */
  signup: boolean;
}

export interface OidcBegun {
  authorizationUrl: URL;
  /** Also set in the browser-binding cookie, so only the browser that began the login can finish it. */
  state: string;
}

export interface PendingOidcLogin {
  state: string;
  provider: string;
  codeVerifier: string;
  nonce: string;
  redirectUri: string;
  returnTo: string | null;
}

export interface OidcIdentity {
  provider: string;
  subject: string;
  email: string | null;
  /**
   * The provider vouches for `email`: its `email_verified` claim is the JSON boolean `true`, read from the same
   * source (ID token or userinfo) as the address. Anything else — false, absent, the string "true" — is unverified.
   */
  emailVerified: boolean;
  name: string | null;
}

/** How long a begun sign-in may take at the provider. */
export const OIDC_STATE_TTL_SECONDS = 10 * 60;

/**
 * The browser-binding cookie: the `state` of the sign-in this browser began. The callback refuses a `state` that
 * does not match it, so a callback URL made by someone else (login CSRF: signing the victim into the attacker's
 * account) does nothing. Host-only, never sent to tenant hosts.
 */
export const OIDC_STATE_COOKIE = 'mcp_oidc_state';

export function oidcStateCookie(publicUrl: string, value: string, maxAgeSeconds: number): string {
  return serializeCookie(OIDC_STATE_COOKIE, value, { maxAgeSeconds, secure: publicUrl.startsWith('https:') });
}

/** How long one failed discovery is remembered before the issuer is asked again. */
const DISCOVERY_RETRY_MS = 2_000;
/** Seconds openid-client waits for the issuer on any one request. */
const PROVIDER_TIMEOUT_SECONDS = 10;

function isTimeout(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return true;
  }
  return false;
}

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]']);

function isLoopback(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname) || /^127(\.\d{1,3}){3}$/.test(url.hostname);
}

/** The sign-up hint, only when the provider says it understands it (OpenID Connect "Prompt Create" 1.0). */
export function signupPrompt(metadata: Readonly<client.ServerMetadata>): string | undefined {
  const supported = metadata['prompt_values_supported'];
  return Array.isArray(supported) && supported.includes('create') ? 'create' : undefined;
}

export function stateHashOf(state: string): string {
  return createHash('sha256').update(state, 'utf8').digest('hex');
}

/**
 * The table has no column for the redirect URI, which the token request must repeat exactly, so it travels in
 * `code_verifier` as `<verifier> <redirect_uri>`: a PKCE verifier never contains a space (RFC 7636 §4.1) and a
 * serialized URL never does either.
 */
function packVerifier(codeVerifier: string, redirectUri: string): string {
  return `${codeVerifier} ${redirectUri}`;
}

function unpackVerifier(packed: string): { codeVerifier: string; redirectUri: string } | null {
  const space = packed.indexOf(' ');
  if (space <= 0) return null;
  return { codeVerifier: packed.slice(0, space), redirectUri: packed.slice(space + 1) };
}

function emailOf(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const email = value.trim();
  return email.length <= 254 && /^[^\s@]+@[^\s@]+$/.test(email) ? email : null;
}

function nameOf(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  // Same rule as a local account's display name: 1-100 characters, no control characters.
  const name = value.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 100);
  return name === '' ? null : name;
}

export function createOidcLogin(config: ControlPlaneConfig, db: Kysely<ControlPlaneSchema>, log: Logger): OidcLogin | null {
  if (!config.OIDC_ISSUER_URL || !config.OIDC_CLIENT_ID) return null;
  const issuer = new URL(config.OIDC_ISSUER_URL);
  // openid-client talks only https. Plain http is allowed for a loopback issuer alone (a provider on this machine:
  // local development and the test suite's in-process provider); anywhere else it would send the client secret
  // and the codes in clear, so it is refused at boot.
  const insecureLoopback = issuer.protocol === 'http:' && isLoopback(issuer);
  if (issuer.protocol !== 'https:' && !insecureLoopback) {
    throw new ConfigError([`OIDC_ISSUER_URL: must be an https URL (plain http is accepted only for a loopback issuer), got ${issuer.origin}`]);
  }
  const provider = config.OIDC_PROVIDER_NAME ?? 'oidc';
  const clientId = config.OIDC_CLIENT_ID;
  const clientSecret = config.OIDC_CLIENT_SECRET;
  const scopes = config.OIDC_SCOPES.split(/\s+/).filter(Boolean);
  const scope = (scopes.includes('openid') ? scopes : ['openid', ...scopes]).join(' ');
  const logger = log.child({ component: 'oidc', provider });

  let discovered: Promise<client.Configuration> | null = null;
  let lastFailure: { at: number; err: unknown } | null = null;
  let closed = false;

  /**
   * Discovery runs on first use, not at boot, so the CP starts while the issuer is down; a failure is retried on a
   * later request (after a short pause, so a dead issuer is not asked on every click).
   */
  async function configuration(): Promise<client.Configuration> {
    if (closed) throw new DomainError('IDENTITY_PROVIDER_FAILED', 'sign-in is shutting down; try again');
    if (lastFailure && Date.now() - lastFailure.at < DISCOVERY_RETRY_MS) throw unreachable(lastFailure.err);
    discovered ??= discover().catch((err: unknown) => {
      discovered = null;
      lastFailure = { at: Date.now(), err };
      throw err;
    });
    try {
      return await discovered;
    } catch (err) {
      throw unreachable(err);
    }
  }

  /**
   * Discovery is an idempotent GET, so a transport failure is tried once more on a fresh connection: a keep-alive
   * connection the issuer closes just as it is reused fails with a reset although the issuer is up (seen under load).
   * A timeout is not retried: the issuer was asked and did not answer.
   */
  async function discoverWithRetry(): Promise<client.Configuration> {
    const options = { execute: insecureLoopback ? [client.allowInsecureRequests] : [], timeout: PROVIDER_TIMEOUT_SECONDS };
    try {
      return await client.discovery(issuer, clientId, undefined, undefined, options);
    } catch (err) {
      if (isTimeout(err)) throw err;
      logger.info({ err }, 'OpenID Connect discovery failed once; trying again on a fresh connection');
      return await client.discovery(issuer, clientId, undefined, undefined, options);
    }
  }

  async function discover(): Promise<client.Configuration> {
    const found = await discoverWithRetry();
    const metadata = found.serverMetadata();
    // client_secret_basic is the default client authentication (OpenID Connect Core §9); post when that is all the
    // issuer offers; a client without a secret is a public client and relies on PKCE alone.
    const methods = metadata.token_endpoint_auth_methods_supported;
    const auth = !clientSecret
      ? client.None()
      : methods && !methods.includes('client_secret_basic') && methods.includes('client_secret_post')
        ? client.ClientSecretPost(clientSecret)
        : client.ClientSecretBasic(clientSecret);
    const configured = new client.Configuration(metadata, clientId, clientSecret ? { client_secret: clientSecret } : undefined, auth);
    configured.timeout = PROVIDER_TIMEOUT_SECONDS;
    if (insecureLoopback) client.allowInsecureRequests(configured);
    lastFailure = null;
    logger.info({ issuer: metadata.issuer }, 'OpenID Connect issuer discovered');
    return configured;
  }

  function unreachable(err: unknown): DomainError {
    logger.warn({ err }, 'OpenID Connect discovery failed');
    return new DomainError('IDENTITY_PROVIDER_FAILED', 'the identity provider is unreachable; try again shortly');
  }

  return {
    provider,

    async begin({ redirectUri, returnTo, signup }) {
      const cfg = await configuration();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const codeVerifier = client.randomPKCECodeVerifier();
      const params: Record<string, string> = {
        redirect_uri: redirectUri,
        response_type: 'code',
        scope,
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
      };
      const prompt = signup ? signupPrompt(cfg.serverMetadata()) : undefined;
      if (prompt) params['prompt'] = prompt;
      const now = Date.now();
      // Abandoned sign-ins' rows are deleted by the hourly session sweep (auth/sessions.ts), not on this path.
      await db
        .insertInto('oidc_states')
        .values({
          state_hash: stateHashOf(state),
          provider,
          code_verifier: packVerifier(codeVerifier, redirectUri),
          nonce,
          return_to: returnTo,
          expires_at: new Date(now + OIDC_STATE_TTL_SECONDS * 1000),
        })
        .execute();
      return { authorizationUrl: client.buildAuthorizationUrl(cfg, params), state };
    },

    async takeState(state) {
      // Read and delete in one statement: of two concurrent callbacks with the same state, exactly one gets the row.
      const row = await db
        .deleteFrom('oidc_states')
        .where('state_hash', '=', stateHashOf(state))
        .where('provider', '=', provider)
        .returningAll()
        .executeTakeFirst();
      if (!row || new Date(row.expires_at).getTime() <= Date.now()) return null;
      const unpacked = unpackVerifier(row.code_verifier);
      if (!unpacked) return null;
      return { state, provider: row.provider, nonce: row.nonce, returnTo: row.return_to, ...unpacked };
    },

    async complete(pending, callbackParams) {
      const cfg = await configuration();
      // The token request repeats the redirect URI the login began with; openid-client takes it from this URL.
      const currentUrl = new URL(pending.redirectUri);
      for (const [key, value] of callbackParams) currentUrl.searchParams.append(key, value);
      try {
        const tokens = await client.authorizationCodeGrant(cfg, currentUrl, {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        });
        const claims = tokens.claims();
        if (!claims) throw new Error('no ID token in the token response');
        let source: Record<string, unknown> = claims;
        // Many providers put email and name in the ID token only when no access token can fetch them; then the
        // userinfo endpoint has them (and its `sub` must be the ID token's, which openid-client checks).
        const userinfoEndpoint = cfg.serverMetadata().userinfo_endpoint;
        if (emailOf(claims['email']) === null && userinfoEndpoint) {
          const userinfo = await client.fetchUserInfo(cfg, tokens.access_token, claims.sub);
          if (emailOf(userinfo.email) !== null) source = userinfo;
        }
        return {
          provider,
          subject: claims.sub,
          email: emailOf(source['email']),
          emailVerified: emailOf(source['email']) !== null && source['email_verified'] === true,
          name: nameOf(source['name']) ?? nameOf(claims['name']),
        };
      } catch (err) {
        logger.warn({ err }, 'OpenID Connect code exchange or ID token validation failed');
        throw new DomainError('IDENTITY_PROVIDER_FAILED', 'sign-in with the identity provider failed: the code could not be exchanged or the ID token is not valid; start the sign-in again');
      }
    },

    async close() {
      closed = true;
      discovered = null;
    },
  };
}
