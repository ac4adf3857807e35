import { env, parseEnv, type EnvOf } from '../core/config.js';
import { connectionEnvSchema } from '../core/http/connections.js';

/** The tenant server's environment: parsed once at boot, frozen, every bad key reported together. */
export const tenantEnvSchema = {
  PORT: env.port('Port to listen on.', 8080),
  HOST: env.stringWithDefault('Interface to bind.', '127.0.0.1'),
  ...connectionEnvSchema,
  DATABASE_URL: env.url('PostgreSQL connection URL. Unset: the embedded PGlite under MOLECULE_DATA_DIR.'),
  MOLECULE_DATA_DIR: env.stringWithDefault('Directory for embedded data (PGlite).', './.molecule'),
  ADMIN_TOKEN: env.secret('Break-glass admin bearer for this tenant (tier 2b). Unset: only lazy bootstrap and session tiers.', 16),
  MOLECULE_ORG_ID: env.uuid('The org this tenant serves. Set: TenantGuard requires X-Molecule-Org-Id (or the slug header) on every request.'),
  MOLECULE_ORG_SLUG: env.pattern('The org slug; accepted in X-Molecule-Org-Slug and used for session checks.', /^[a-z][a-z0-9-]{1,62}$/, 'must be a lowercase slug'),
  SECRETS_ENCRYPTION_KEY: env.pattern(
    'AES-256 key for secrets at rest: 32 bytes, base64.',
    /^(?:[A-Za-z0-9+/]{43}=|.{32})$/,
    'must be 32 bytes, base64-encoded (generate one with: openssl rand -base64 32)',
  ),
  SECRETS_ENCRYPTION_KEYS_PREVIOUS: env.string(
    'Comma-separated earlier SECRETS_ENCRYPTION_KEY values, still accepted for reading during a key rotation.',
  ),
  CP_UPSTREAM_URL: env.url('Control plane base URL; enables session (cookie) verification via /cp/auth/tenant-member.'),
  REDIS_URL: env.url('Redis URL; when set, rate limits are shared across replicas.'),
  MOLECULE_ENV: env.oneOf('Deployment environment.', ['development', 'test', 'production'] as const, 'development'),
  LOG_LEVEL: env.oneOf('pino log level.', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
  ORG_TOKEN_MINT_LIMIT: env.int('Org API key mints (and rotations) allowed per client per hour.', 10, 1, 100_000),
  LLM_BILLING_MODE_DEFAULT: env.oneOf('Org-wide default LLM billing mode for workspaces without an override.', ['platform_managed', 'byok', 'disabled'] as const, 'byok'),
  HEARTBEAT_TTL_SECONDS: env.int('A running workspace with no heartbeat for this long is marked offline.', 30, 2, 3600),
  HEARTBEAT_INTERVAL_SECONDS: env.int('How often workspace runtimes heartbeat (passed to them).', 5, 1, 600),
  PROVISION_TIMEOUT_SECONDS: env.int('A workspace still provisioning after this long is marked failed.', 120, 5, 3600),
  WORKSPACE_PROVISIONER: env.oneOf(
    'How workspaces run: `local` starts one runtime process per workspace on this machine; `none` keeps records only.',
    ['local', 'none'] as const,
    'local',
  ),
  PLATFORM_URL: env.url('URL workspace runtimes use to reach this tenant. Default: the address it listens on.'),
  MOLECULE_TEMPLATES_DIR: env.stringWithDefault('Workspace templates: <dir>/<template>/template.json with {"command": "..."}.', './templates'),
  DATABASE_POOL_SIZE: env.int('Connections in the PostgreSQL pool.', 10, 1, 200),
};

export type TenantConfig = EnvOf<typeof tenantEnvSchema>;

export function loadTenantConfig(source: Record<string, string | undefined> = process.env): TenantConfig {
  return parseEnv(tenantEnvSchema, source);
}
