import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { ControlPlaneConfig } from '../config.js';
import type { ControlPlaneSchema } from '../db/schema.js';

/**
 * Sign-in through an OpenID Connect provider configured by env (authorization code + PKCE).
 * Placeholder: the implementation lands with the OIDC routes.
 */
export interface OidcLogin {
  readonly provider: string;
  close(): Promise<void>;
}

export function createOidcLogin(config: ControlPlaneConfig, _db: Kysely<ControlPlaneSchema>, _log: Logger): OidcLogin | null {
  if (!config.OIDC_ISSUER_URL || !config.OIDC_CLIENT_ID) return null;
  return { provider: config.OIDC_PROVIDER_NAME ?? 'oidc', close: async () => undefined };
}
