import type { Command } from 'commander';
import { hostname } from 'node:os';
import {
  createControlPlaneClient,
  createTenantClient,
  nodeFetch,
  type ClientOptions,
  type ControlPlaneClient,
  type Credential,
  type TenantClient,
} from '../sdk/index.js';
import { credentialsPath, readCredentials, updateProfile, type Profile } from './config.js';
import { CliError, EXIT } from './exit-codes.js';
import { Output } from './output.js';
import { version } from './version.js';

/** The options every command accepts (declared once on the root program). */
export interface GlobalOptions {
  json?: boolean;
  output?: string;
  profile?: string;
  apiUrl?: string;
  cpUrl?: string;
  org?: string;
  yes?: boolean;
}

export const DEFAULT_CP_URL = 'http://localhost:8080';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Where the tenant and CP settings came from, for `auth status`. */
export interface Resolved {
  profileName: string;
  profile: Profile;
  tenantUrl: string | null;
  cpUrl: string;
  orgId: string | null;
  orgSlug: string | null;
  tenantCredential: Credential | null;
  cpCredential: Credential | null;
  /** Which setting supplied the tenant credential: an environment variable, a flag or the profile. */
  tenantCredentialSource: string | null;
}

/**
 * Everything a command needs: the resolved settings (flags, then environment, then the profile), the SDK clients
 * built from them, and the output layer. Commands never read process.env or the credentials file themselves.
 */
export class CliContext {
  readonly out: Output;
  private resolvedCache: Resolved | null = null;

  constructor(
    readonly options: GlobalOptions,
    readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.out = new Output(Boolean(options.json) || options.output === 'json');
  }

  /** True when confirmation prompts are skipped (`--yes`). */
  get yes(): boolean {
    return Boolean(this.options.yes);
  }

  get credentialsFile(): string {
    return credentialsPath(this.env);
  }

  get userAgent(): string {
    return `molecule-cli/${version} (${process.platform}; node ${process.versions.node}; host ${hostname()})`;
  }

  resolve(): Resolved {
    if (this.resolvedCache) return this.resolvedCache;
    const file = readCredentials(this.credentialsFile);
    const profileName = this.options.profile ?? this.env['MOLECULE_PROFILE'] ?? file.current ?? 'default';
    if (this.options.profile && !file.profiles[profileName]) {
      throw new CliError(`no profile named "${profileName}" — see \`molecule auth status\``, EXIT.USAGE);
    }
    const profile = file.profiles[profileName] ?? {};
    const org = this.options.org;
    const orgId = (org && UUID.test(org) ? org : undefined) ?? this.env['MOLECULE_ORG_ID'] ?? (org ? undefined : profile.org_id) ?? null;
    const orgSlug = (org && !UUID.test(org) ? org : undefined) ?? this.env['MOLECULE_ORG_SLUG'] ?? (org ? undefined : profile.org_slug) ?? null;
    const cpUrl = stripSlash(this.options.cpUrl ?? this.env['MOLECULE_CP_URL'] ?? profile.cp_url ?? DEFAULT_CP_URL);
    const explicitTenant = this.options.apiUrl ?? this.env['MOLECULE_API_URL'] ?? profile.api_url ?? null;
    const tenantUrl = explicitTenant ? stripSlash(explicitTenant) : orgSlug ? tenantUrlFor(cpUrl, orgSlug) : null;

    let tenantCredential: Credential | null = null;
    let tenantCredentialSource: string | null = null;
    if (this.env['MOLECULE_API_KEY']) {
      // A workspace token given as the key (agents are handed one) is sent the same way; typed for what it is.
      const key = this.env['MOLECULE_API_KEY'];
      tenantCredential = { type: key.startsWith('molw_') ? 'workspace-token' : 'org-key', token: key };
      tenantCredentialSource = 'MOLECULE_API_KEY';
    } else if (this.env['MOLECULE_WORKSPACE_TOKEN']) {
      tenantCredential = { type: 'workspace-token', token: this.env['MOLECULE_WORKSPACE_TOKEN'] };
      tenantCredentialSource = 'MOLECULE_WORKSPACE_TOKEN';
    } else if (profile.api_key) {
      tenantCredential = { type: 'org-key', token: profile.api_key };
      tenantCredentialSource = `profile ${profileName}`;
    } else if (this.env['MOLECULE_SESSION'] ?? profile.session) {
      tenantCredential = { type: 'session', token: (this.env['MOLECULE_SESSION'] ?? profile.session)! };
      tenantCredentialSource = this.env['MOLECULE_SESSION'] ? 'MOLECULE_SESSION' : `profile ${profileName} (session)`;
    }

    let cpCredential: Credential | null = null;
    if (this.env['MOLECULE_PARTNER_KEY']) cpCredential = { type: 'partner-key', token: this.env['MOLECULE_PARTNER_KEY'] };
    else if (this.env['MOLECULE_SESSION']) cpCredential = { type: 'session', token: this.env['MOLECULE_SESSION'] };
    else if (this.env['MOLECULE_CP_ADMIN_TOKEN']) cpCredential = { type: 'admin-token', token: this.env['MOLECULE_CP_ADMIN_TOKEN'] };
    else if (profile.partner_key) cpCredential = { type: 'partner-key', token: profile.partner_key };
    else if (profile.session) cpCredential = { type: 'session', token: profile.session };

    this.resolvedCache = { profileName, profile, tenantUrl, cpUrl, orgId, orgSlug, tenantCredential, cpCredential, tenantCredentialSource };
    return this.resolvedCache;
  }

  private clientOptions(baseUrl: string, credential: Credential | null): ClientOptions {
    return {
      baseUrl,
      ...(credential ? { credential } : {}),
      headers: { 'user-agent': this.userAgent },
      // Under --json stderr carries only the final error, as one JSON line.
      onRetry: ({ delayMs, reason }) => this.out.json ? undefined : this.out.note(this.out.style('dim', `${reason}; retrying in ${Math.ceil(delayMs / 1000)} s…`, this.out.stderr)),
    };
  }

  /** Options for a tenant client (also used by `molecule mcp`). Throws a usage error naming what to set. */
  tenantOptions(anonymous = false): ClientOptions {
    const r = this.resolve();
    if (!r.tenantUrl) {
      throw new CliError('no org selected: set MOLECULE_API_URL (the org\'s URL) or MOLECULE_ORG_SLUG, pass --org, or run `molecule auth login`', EXIT.USAGE, 'NO_ORG');
    }
    if (!r.tenantCredential && !anonymous) {
      throw new CliError('not signed in to an org: set MOLECULE_API_KEY, run `molecule auth use-key` or `molecule auth login`', EXIT.UNAUTHENTICATED, 'NOT_AUTHENTICATED');
    }
    const routing = r.orgId ? { orgId: r.orgId } : r.orgSlug ? { orgSlug: r.orgSlug } : {};
    const options: ClientOptions = { ...this.clientOptions(r.tenantUrl, r.tenantCredential), ...routing };
    if (!anonymous && needsRenewal(r)) {
      // The first request of this client waits for the renewal, then every request carries the renewed key.
      // The SDK's Node fetch (it resolves *.localhost to loopback), wrapped.
      const inner = options.fetch ?? nodeFetch;
      options.fetch = async (req) => {
        const token = await this.renewManagedKey();
        if (token) req.headers.set('authorization', `Bearer ${token}`);
        return inner(req);
      };
    }
    return options;
  }

  private renewal: Promise<string | null> | null = null;

  /**
   * Renews the profile's CLI-managed org key (the `cli:<host>` key `auth login` minted) once per process: the stored
   * control-plane session rotates it — a session has no expiry of its own, so the new key gets a fresh lifetime,
   * where a key rotating itself would stay clamped to its own expiry — and the profile is saved with the new key.
   * A failure is a warning while the old key still works. Resolves to the key to use.
   */
  renewManagedKey(now = Date.now()): Promise<string | null> {
    this.renewal ??= (async () => {
      const r = this.resolve();
      const profile = r.profile as ManagedProfile;
      const old = profile.api_key ?? null;
      if (!r.tenantUrl || !profile.key_id || !old) return old;
      const expiresAt = profile.key_expires_at ? Date.parse(profile.key_expires_at) : NaN;
      if (!profile.session) {
        this.out.warn(`the CLI's org key expires ${new Date(expiresAt).toISOString()}: run \`molecule auth login\` to renew it`);
        return old;
      }
      try {
        const client = createTenantClient({
          ...this.clientOptions(r.tenantUrl, { type: 'session', token: profile.session }),
          ...(r.orgId ? { orgId: r.orgId } : r.orgSlug ? { orgSlug: r.orgSlug } : {}),
        });
        const { data } = await client.POST('/org/tokens/{id}/rotate', {
          params: { path: { id: profile.key_id } },
          // Other commands running right now with the old key get a few minutes to finish.
          body: { grace_seconds: RENEWAL_GRACE_SECONDS, expires_at: new Date(now + MANAGED_KEY_LIFETIME_MS).toISOString() },
        });
        const minted = data as { id: string; auth_token: string; expires_at: string | null; created_at: string };
        updateProfile(
          r.profileName,
          (p) => ({ ...p, api_key: minted.auth_token, key_id: minted.id, key_expires_at: minted.expires_at, key_created_at: minted.created_at }) as ManagedProfile,
          this.credentialsFile,
        );
        if (!this.out.json) this.out.note(this.out.style('dim', `renewed the CLI's org key (now expires ${minted.expires_at ?? 'never'})`, this.out.stderr));
        return minted.auth_token;
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        if (Number.isNaN(expiresAt) || expiresAt > now) {
          this.out.warn(`could not renew the CLI's org key (${reason}); it still works until ${profile.key_expires_at} — run \`molecule auth login\` before then`);
        } else {
          this.out.warn(`could not renew the CLI's expired org key (${reason}): run \`molecule auth login\``);
        }
        return old;
      }
    })();
    return this.renewal;
  }

  /** Options for a control-plane client; `anonymous` allows calls that need no credential (health, plans, login). */
  cpOptions(anonymous = false): ClientOptions {
    const r = this.resolve();
    if (!r.cpCredential && !anonymous) {
      throw new CliError('not signed in to the control plane: run `molecule auth login`, or set MOLECULE_PARTNER_KEY or MOLECULE_SESSION', EXIT.UNAUTHENTICATED, 'NOT_AUTHENTICATED');
    }
    return this.clientOptions(r.cpUrl, r.cpCredential);
  }

  /** A tenant client at a given URL with a given credential (sign-in commands, before anything is saved). */
  tenantClientWith(baseUrl: string, credential: Credential | null, routing: { orgId?: string | null; orgSlug?: string | null } = {}): TenantClient {
    return createTenantClient({
      ...this.clientOptions(stripSlash(baseUrl), credential),
      ...(routing.orgId ? { orgId: routing.orgId } : routing.orgSlug ? { orgSlug: routing.orgSlug } : {}),
    });
  }

  /** A control-plane client at a given URL with a given credential (sign-in commands). */
  cpClientWith(baseUrl: string, credential: Credential | null): ControlPlaneClient {
    return createControlPlaneClient(this.clientOptions(stripSlash(baseUrl), credential));
  }

  /** A tenant client; `anonymous` allows calls that need no credential (health). */
  tenant(anonymous = false): TenantClient {
    return createTenantClient(this.tenantOptions(anonymous));
  }

  cp(anonymous = false): ControlPlaneClient {
    return createControlPlaneClient(this.cpOptions(anonymous));
  }
}

/** The profile as `auth login` writes it: the managed key's creation time sizes its lifetime. */
export type ManagedProfile = Profile & { key_created_at?: string; key_prefix?: string; key_role?: string };

const DAY_MS = 86_400_000;
/** The lifetime of the key `auth login` mints (and each renewal gives it again). */
export const MANAGED_KEY_LIFETIME_MS = 7 * DAY_MS;
const RENEWAL_GRACE_SECONDS = 300;

/**
 * A managed key (minted by `auth login`, used from the profile, not from MOLECULE_API_KEY) is renewed once less than a
 * third of its lifetime, or less than a day, is left.
 */
export function needsRenewal(r: Resolved, now = Date.now()): boolean {
  const profile = r.profile as ManagedProfile;
  if (!profile.key_managed || !profile.key_id || !profile.key_expires_at) return false;
  if (r.tenantCredential?.type !== 'org-key' || r.tenantCredential.token !== profile.api_key) return false;
  const expiresAt = Date.parse(profile.key_expires_at);
  if (Number.isNaN(expiresAt)) return false;
  const createdAt = profile.key_created_at ? Date.parse(profile.key_created_at) : NaN;
  const lifetime = Number.isNaN(createdAt) ? MANAGED_KEY_LIFETIME_MS : expiresAt - createdAt;
  const left = expiresAt - now;
  return left < lifetime / 3 || left < DAY_MS;
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** The org's host through the edge: `http://localhost:8080` + `acme` → `http://acme.localhost:8080`. */
export function tenantUrlFor(cpUrl: string, slug: string): string {
  const url = new URL(cpUrl);
  url.hostname = `${slug}.${url.hostname}`;
  return stripSlash(url.toString());
}

/** The context of the command being run (global options merged in by commander). */
export function contextOf(command: Command): CliContext {
  return new CliContext(command.optsWithGlobals<GlobalOptions>());
}
