import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { CliError, EXIT } from './exit-codes.js';

/**
 * One named set of credentials and addresses, like a `gh` host entry. Everything is optional: a profile may hold only
 * an org key (`auth use-key`), or a session and the org key minted with it (`auth login`).
 */
export interface Profile {
  /** The tenant's base URL (the org's host through the edge, e.g. http://acme.localhost:8080). */
  api_url?: string;
  /** The control plane's base URL (e.g. http://localhost:8080). */
  cp_url?: string;
  org_id?: string;
  org_slug?: string;
  /** An org API key for the tenant. */
  api_key?: string;
  /** The key's id, expiry and whether the CLI minted it (`cli:<host>`, renewed before it expires). */
  key_id?: string;
  key_expires_at?: string | null;
  key_managed?: boolean;
  /** A control-plane session (`auth login`), sent as the `mcp_session` cookie. */
  session?: string;
  session_expires_at?: string | null;
  /** A partner API key for the control plane (resellers, CI creating orgs). */
  partner_key?: string;
  /** Who signed in, for `auth status`. */
  user_email?: string;
}

export interface CredentialsFile {
  current?: string;
  profiles: Record<string, Profile>;
}

export const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** `$MOLECULE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/molecule`, else `~/.config/molecule`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['MOLECULE_CONFIG_DIR']) return env['MOLECULE_CONFIG_DIR'];
  const base = env['XDG_CONFIG_HOME'] || path.join(homedir(), '.config');
  return path.join(base, 'molecule');
}

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configDir(env), 'credentials.json');
}

export function readCredentials(file = credentialsPath()): CredentialsFile {
  if (!existsSync(file)) return { profiles: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message} — fix or delete it, then sign in again`, EXIT.ERROR, 'CONFIG_INVALID');
  }
  const value = parsed as Partial<CredentialsFile>;
  if (!value || typeof value !== 'object' || typeof value.profiles !== 'object' || value.profiles === null) {
    throw new CliError(`${file} is not a molecule credentials file — fix or delete it, then sign in again`, EXIT.ERROR, 'CONFIG_INVALID');
  }
  return { ...(typeof value.current === 'string' ? { current: value.current } : {}), profiles: value.profiles };
}

/**
 * Written owner-only (0600, in a 0700 directory) and atomically (a temporary file renamed over the old one), so a
 * crash mid-write never leaves a half file and no other local user can read the credentials.
 */
export function writeCredentials(data: CredentialsFile, file = credentialsPath()): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** Applies a change to one profile and saves. */
export function updateProfile(name: string, change: (p: Profile) => Profile, file = credentialsPath()): Profile {
  const data = readCredentials(file);
  const next = change({ ...(data.profiles[name] ?? {}) });
  data.profiles[name] = next;
  data.current ??= name;
  writeCredentials(data, file);
  return next;
}
