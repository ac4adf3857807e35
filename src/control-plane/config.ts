import { ConfigError, env, parseEnv, type EnvOf } from '../core/config.js';
import { previousKeysField, secretKeyField } from '../core/crypto/key-fields.js';
import { connectionEnvSchema } from '../core/http/connections.js';

/** The control plane's environment: parsed once at boot, frozen, every bad key reported together. */
export const controlPlaneEnvSchema = {
  PORT: env.port('Port to listen on.', 8080),
  HOST: env.stringWithDefault('Interface to bind.', '127.0.0.1'),
  ...connectionEnvSchema,
  DATABASE_URL: env.url('PostgreSQL connection URL for the control plane’s own database. Unset: embedded PGlite under MOLECULE_DATA_DIR.'),
  MOLECULE_DATA_DIR: env.stringWithDefault('Directory for embedded data (PGlite; the CP uses <dir>/cp).', './.molecule'),
  DATABASE_POOL_SIZE: env.int('Connections in the PostgreSQL pool.', 10, 1, 200),
  CP_ADMIN_API_TOKEN: env.secret('Platform-root bearer for /api/v1/admin/*. Unset: every admin route answers 401.', 16),
  PROVISION_SHARED_SECRET: env.secret('Bearer tenants use for the provisioning API (routes come with provisioning; unset: not mounted).', 16),
  PUBLIC_URL: env.url('The URL users reach the control plane at (OIDC redirect, billing pages, cookie Secure flag). Default: http://localhost:<PORT>.'),
  TENANT_DOMAIN: env.pattern(
    'Parent domain of tenant hosts (<slug>.<domain>): the edge proxies them to that org’s tenant (unset: <slug>.localhost), and the session cookie is scoped to it so tenant subdomains receive it.',
    /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/,
    'must be a lowercase domain name such as moleculesai.app',
  ),
  EDGE_ROUTE_CACHE_MS: env.int(
    'How long the edge remembers that an org’s tenant is ready at an address (not-ready and unknown orgs are never remembered; an address that does not answer is forgotten at once). 0: look it up on every request.',
    1000,
    0,
    60_000,
  ),
  SESSION_TTL_HOURS: env.int('How long a sign-in lasts.', 24 * 7, 1, 24 * 90),
  TERMS_VERSION: env.stringWithDefault('Current terms-of-service version; users accept it once per version before creating orgs.', '2026-11-01'),
  SLUG_TOMBSTONE_DAYS: env.int(
    'Days a deleted org’s slug stays refused for new orgs (409), so nothing still addressing the old org reaches a new owner. 0: reusable at once.',
    30,
    0,
    3650,
  ),
  TENANT_CALL_TIMEOUT_MS: env.int(
    'Deadline of one call the CP makes to a tenant for an admin route (workspaces list, workspace env, LLM billing mode); past it: 502 TENANT_UNREACHABLE.',
    15_000,
    100,
    300_000,
  ),
  MAX_FREE_ORGS_PER_USER: env.int('Free-plan orgs one user may own; beyond it creating an org answers 402.', 3, 0, 1000),
  INSTANCE_LOOKUP_LIMIT: env.int('Public /orgs/:slug/instance lookups allowed per client per minute (anti-enumeration).', 60, 1, 100_000),
  LOGIN_ATTEMPT_LIMIT: env.int('Password sign-in attempts allowed per client and email per 15 minutes.', 10, 1, 100_000),
  LOGIN_ADDRESS_LIMIT: env.int('Password sign-in attempts allowed per client address per 15 minutes, whatever the email (against password spraying).', 100, 1, 1_000_000),
  ADMIN_AUTH_FAILURE_LIMIT: env.int(
    'Failed CP admin bearer attempts allowed per client per minute; beyond it wrong bearers get 429 for the rest of the minute (the right one is always served).',
    20,
    1,
    100_000,
  ),
  DEVICE_CODE_LIMIT: env.int('Device authorization requests (POST /auth/device/code) allowed per client address per hour.', 30, 1, 1_000_000),
  DEVICE_TOKEN_POLL_LIMIT: env.int('Device token polls (POST /auth/device/token) allowed per client address per minute, over all its device codes.', 120, 1, 1_000_000),
  DEVICE_VERIFY_LIMIT: env.int('User code look-ups and decisions on the /device page allowed per user and per client address per 15 minutes (against guessing codes).', 30, 1, 1_000_000),
  SIGNUP_LIMIT: env.int('Sign-ups allowed per client per hour.', 20, 1, 100_000),
  EMAIL_VERIFICATION_TTL_HOURS: env.int('How long an email verification link stays usable.', 24, 1, 24 * 30),
  EMAIL_VERIFICATION_REQUEST_LIMIT: env.int('Verification links one user may ask for per hour (POST /auth/verify-email/request).', 5, 1, 100_000),
  MAIL_TRANSPORT: env.oneOf(
    'How mail (email verification links) is delivered: `log` writes each message as one structured warning line to the log instead of sending it.',
    ['log'] as const,
    'log',
  ),
  PASSWORD_HASH_COST: env.int('scrypt cost as log2(N); 15 = 32 MiB of memory per hash.', 15, 10, 20),
  PASSWORD_HASH_CONCURRENCY: env.int('Password hashes (scrypt) computed at once in this process; more wait in a queue.', 4, 1, 256),
  PASSWORD_HASH_QUEUE_LIMIT: env.int('Password hashes allowed to wait for a slot; beyond it sign-in and sign-up answer 429 with Retry-After.', 64, 0, 100_000),
  TRUST_PROXY: env.cidrList(
    'Proxies (IP addresses or CIDR ranges, comma-separated) whose X-Forwarded-For names the client. Unset: nobody; the TCP peer is the client.',
  ),
  OIDC_ISSUER_URL: env.url('OpenID Connect issuer (discovery at <issuer>/.well-known/openid-configuration). Unset: password sign-in only.'),
  OIDC_CLIENT_ID: env.string('OpenID Connect client id registered with the issuer.'),
  OIDC_CLIENT_SECRET: env.string('OpenID Connect client secret (confidential client).'),
  OIDC_PROVIDER_NAME: env.pattern('Name of the provider in GET /cp/auth/login?provider=<name>.', /^[a-z][a-z0-9-]{0,31}$/, 'must be a short lowercase name'),
  OIDC_SCOPES: env.stringWithDefault('Scopes requested from the issuer.', 'openid email profile'),
  TENANT_PROVISIONER: env.oneOf(
    'How tenants are run for new orgs: `local-process` runs one tenant process per org on this machine, each with its own database; `none` records the request and leaves the org provisioning.',
    ['none', 'local-process'] as const,
    'none',
  ),
  TENANT_DATABASE_URL: env.url(
    'PostgreSQL server (a superuser connection URL) on which local-process creates one database and one role per tenant. Default: the server of DATABASE_URL.',
  ),
  TENANT_HOST: env.stringWithDefault('Interface tenant processes (local-process) listen on; the edge reaches them there.', '127.0.0.1'),
  TENANT_READY_TIMEOUT_SECONDS: env.int('A tenant that has not called back and answered /health this long after its start is marked failed.', 120, 5, 3600),
  TENANT_SHUTDOWN: env.oneOf(
    'What stopping the CP does to the tenant processes it runs: `stop` stops them (the next CP restarts them); `keep` leaves them serving, and the next CP adopts them.',
    ['stop', 'keep'] as const,
    'stop',
  ),
  TENANT_AGENT_UID_BASE: env.int('First agent uid handed to tenants (local-process): each tenant gets its own TENANT_AGENT_UID_COUNT uids from here.', 1_000_000, 1000, 2_000_000_000),
  TENANT_AGENT_UID_COUNT: env.int('Agent uids (one per workspace) each tenant may use.', 1000, 1, 1_000_000),
  WORKSPACE_AGENT_ISOLATION: env.oneOf(
    'How agents of workspaces the CP runs itself (POST /workspaces/provision) are isolated: `uid` (the CP runs as root: one uid per workspace from WORKSPACE_AGENT_UID_BASE), `bwrap` (bubblewrap), `none` (development only), `auto` (uid when root, else bwrap when on PATH, else none).',
    ['auto', 'uid', 'bwrap', 'none'] as const,
    'auto',
  ),
  WORKSPACE_AGENT_UID_BASE: env.int(
    'First uid given to agents of workspaces the CP runs (uid isolation). Must not overlap the tenants’ ranges (TENANT_AGENT_UID_BASE…) or any tenant’s AGENT_UID_BASE range.',
    500_000,
    1000,
    2_000_000_000,
  ),
  WORKSPACE_AGENT_UID_COUNT: env.int('How many uids from WORKSPACE_AGENT_UID_BASE the CP may give agents (one per workspace it runs).', 100_000, 1, 1_000_000),
  WORKSPACE_AGENT_HOME_DIR: env.string('Directory for the agents’ own directories of workspaces the CP runs (one per workspace, 0700). Default: <MOLECULE_DATA_DIR>/cp/agents (a temporary directory for memory://).'),
  WORKSPACE_TEMPLATES_DIR: env.stringWithDefault(
    'Where the CP finds a provisioned workspace’s template (`<dir>/<template>/template.json`, its `command` is the agent command); a template not found runs the runtime without an agent command.',
    './templates',
  ),
  SECRETS_ENCRYPTION_KEY: secretKeyField(
    'AES-256 key for what the CP keeps encrypted (tenant admin tokens, tenant database passwords): 32 random bytes, base64. Unset outside production: generated once into <MOLECULE_DATA_DIR>/cp/secrets.key.',
  ),
  SECRETS_ENCRYPTION_KEYS_PREVIOUS: previousKeysField('Comma-separated earlier SECRETS_ENCRYPTION_KEY values, still accepted for reading during a key rotation.'),
  BILLING_PROVIDER: env.oneOf('Billing backend: `ledger` is the built-in self-hosted ledger (plans, credits, invoices).', ['ledger'] as const, 'ledger'),
  REDIS_URL: env.url('Redis URL; when set, rate limits are shared across replicas.'),
  MOLECULE_ENV: env.oneOf('Deployment environment.', ['development', 'test', 'production'] as const, 'development'),
  LOG_LEVEL: env.oneOf('pino log level.', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
};

export type ControlPlaneConfig = EnvOf<typeof controlPlaneEnvSchema>;

export function loadControlPlaneConfig(source: Record<string, string | undefined> = process.env): ControlPlaneConfig {
  const config = parseEnv(controlPlaneEnvSchema, source);
  const oidc = [config.OIDC_ISSUER_URL, config.OIDC_CLIENT_ID].filter(Boolean).length;
  if (config.TENANT_PROVISIONER === 'local-process' && !config.TENANT_DATABASE_URL && !config.DATABASE_URL) {
    throw new ConfigError([
      'TENANT_PROVISIONER=local-process needs a PostgreSQL server for the tenants’ databases: set TENANT_DATABASE_URL (or DATABASE_URL), or run `molecule-platform up`, which brings an embedded one',
    ]);
  }
  if (oidc === 1) {
    throw new ConfigError(['OIDC_ISSUER_URL and OIDC_CLIENT_ID: set both to enable OpenID Connect sign-in, or neither']);
  }
  return config;
}

/** The URL the CP is reached at, as users see it (never ends in a slash). */
export function publicUrlOf(config: ControlPlaneConfig): string {
  return config.PUBLIC_URL ?? `http://localhost:${config.PORT}`;
}
