import { ConfigError, env, parseEnv, type EnvOf } from '../core/config.js';
import { previousKeysField, secretKeyField } from '../core/crypto/key-fields.js';

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
  MOLECULE_ORG_NAME: env.string('The org’s display name, served at GET /org/identity (empty when unset).'),
  MOLECULE_GIT_SHA: env.string('The commit this build was made from, served at GET /buildinfo (`unknown` when unset).'),
  SECRETS_ENCRYPTION_KEY: secretKeyField(
    'AES-256 key for secrets at rest: 32 random bytes, base64 or base64url (openssl rand -base64 32). Low-entropy values are refused.',
  ),
  SECRETS_ENCRYPTION_KEYS_PREVIOUS: previousKeysField(
    'Comma-separated earlier SECRETS_ENCRYPTION_KEY values, still accepted for reading during a key rotation (also the legacy raw 32-character form).',
  ),
  CP_UPSTREAM_URL: env.url(
    'Control plane base URL; enables session (cookie) verification via /cp/auth/tenant-member?org_id= and the /cp/* proxy to it. Requires MOLECULE_ORG_ID. With ADMIN_TOKEN too (a CP-provisioned tenant): config at boot, boot events and audit anchors at the CP.',
  ),
  AUDIT_ANCHOR_INTERVAL_SECONDS: env.int(
    'A CP-provisioned tenant reports its audit chain head (count + hash) to the control plane this often, when it changed (and at boot and shutdown).',
    60,
    1,
    86_400,
  ),
  TENANT_DOMAIN: env.pattern(
    'Parent domain of tenant hosts: cookie-authenticated writes from https://<MOLECULE_ORG_SLUG>.<TENANT_DOMAIN> count as same-origin.',
    /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/,
    'must be a lowercase domain name such as moleculesai.app',
  ),
  CP_PUBLIC_URL: env.httpUrl('The URL users reach the control plane at; cookie-authenticated writes from its origin count as same-origin.'),
  REDIS_URL: env.url('Redis URL; when set, rate limits are shared across replicas.'),
  TRUST_PROXY: env.cidrList(
    'Proxies (IP addresses or CIDR ranges, comma-separated) whose X-Forwarded-For names the client, such as the CP edge. Unset: nobody; the TCP peer is the client.',
  ),
  MOLECULE_ENV: env.oneOf('Deployment environment.', ['development', 'test', 'production'] as const, 'development'),
  LOG_LEVEL: env.oneOf('pino log level.', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
  ORG_TOKEN_MINT_LIMIT: env.int('Org API key mints (and rotations) allowed per client per hour.', 10, 1, 100_000),
  MCP_RATE_LIMIT: env.int('Requests to /mcp allowed per credential per minute (the reference MCP allows 120).', 120, 1, 100_000),
  LLM_BILLING_MODE_DEFAULT: env.oneOf('Org-wide default LLM billing mode for workspaces without an override.', ['platform_managed', 'byok', 'disabled'] as const, 'byok'),
  HEARTBEAT_TTL_SECONDS: env.int('A running workspace with no heartbeat for this long is marked offline.', 30, 2, 3600),
  HEARTBEAT_INTERVAL_SECONDS: env.int('How often workspace runtimes heartbeat (passed to them).', 5, 1, 600),
  PROVISION_TIMEOUT_SECONDS: env.int('A workspace still provisioning after this long is marked failed.', 120, 5, 3600),
  WORKSPACE_PROVISIONER: env.oneOf(
    'How workspaces run: `local` starts one runtime process per workspace on this machine; `cp` asks the control plane to run them (POST <CP_UPSTREAM_URL>/cp/workspaces/provision; needs CP_UPSTREAM_URL, ADMIN_TOKEN and MOLECULE_CP_SHARED_SECRET); `none` keeps records only.',
    ['local', 'cp', 'none'] as const,
    'local',
  ),
  MOLECULE_CP_SHARED_SECRET: env.secret(
    'The control plane’s PROVISION_SHARED_SECRET: the bearer of WORKSPACE_PROVISIONER=cp’s calls (sent with ADMIN_TOKEN as X-Molecule-Admin-Token). The CP hands it to the tenants it runs.',
    16,
  ),
  PROVISION_SHARED_SECRET: env.secret('Legacy name of MOLECULE_CP_SHARED_SECRET, read only when that is unset.', 16),
  PLATFORM_URL: env.url('URL workspace runtimes use to reach this tenant. Default: the address it listens on.'),
  MOLECULE_TEMPLATES_DIR: env.string(
    'More workspace templates, loaded into the database at boot and on POST /admin/templates/refresh beside the built-ins: <dir>/<id>/config.yaml (+ files), or a legacy <dir>/<id>/template.json {"command": "..."}. Unset or missing: only the built-ins.',
  ),
  MOLECULE_PLUGINS_DIR: env.string(
    'More plugins for the catalog (GET /plugins), read at boot beside the built-ins: <dir>/<name>/plugin.yaml (+ files). Same name: this directory wins. Unset or missing: only the built-ins.',
  ),
  ORG_TEMPLATES_DIR: env.string(
    'More org templates for GET /org/templates and POST /org/import `dir`: <dir>/<name>/org.yaml. Listed before (and shadowing) the built-in examples; a missing directory lists only the built-ins.',
  ),
  MOLECULE_PROVISION_CONCURRENCY: env.int('Runtimes an org import starts at once (the rest wait their turn).', 8, 1, 256),
  DATABASE_POOL_SIZE: env.int('Connections in the PostgreSQL pool.', 10, 1, 200),
  EVENT_STREAMS_MAX: env.int('Event streams (SSE) this process serves at once; beyond, a new stream is refused with 429 and Retry-After.', 1000, 1, 1_000_000),
  EVENT_STREAMS_PER_CREDENTIAL_MAX: env.int('Event streams one credential (key, token, session user, ADMIN_TOKEN) may hold open at once; beyond, 429.', 20, 1, 100_000),
  EVENT_STREAM_BUFFER_BYTES: env.int(
    'Bytes of events one stream may hold for a client that is not reading; beyond, the stream ends with `event: overflow`.',
    1024 * 1024,
    16 * 1024,
    256 * 1024 * 1024,
  ),
  AGENT_ISOLATION: env.oneOf(
    'How agent commands are isolated: `uid` (tenant runs as root: one uid per workspace), `bwrap` (bubblewrap sandbox), `none` (development only), `auto` (uid as root, else bwrap when on PATH, else none with a warning).',
    ['auto', 'uid', 'bwrap', 'none'] as const,
    'auto',
  ),
  AGENT_UID_BASE: env.int('First uid given to workspace agents (uid isolation). Give each tenant on a host its own range.', 900_000, 1000, 2_000_000_000),
  AGENT_UID_COUNT: env.int('How many uids from AGENT_UID_BASE this tenant may give agents (one per workspace).', 10_000, 1, 1_000_000),
  APPROVAL_GATED_ACTIONS: env.string(
    'Actions that need a human approval before they run (comma-separated): secret_write, org_token_mint, workspace_delete. The gated request answers 202 pending_approval; the identical request, retried after approval, runs once. Unset: none (keys minted with approval_required are gated regardless).',
  ),
  APPROVAL_GATED_CLASSES: env.string(
    'Credential classes APPROVAL_GATED_ACTIONS applies to (comma-separated): org-token, admin-token, workspace-token, bootstrap, session. Default: org-token,workspace-token (the credentials agents hold). Add admin-token only when another principal (a session or an org key) can approve: the requester never approves its own request.',
  ),
  APPROVAL_TTL_SECONDS: env.int('A pending approval not decided within this long reads `expired`; an approved gate approval not used within this long (from its decision) expires too.', 86_400, 1, 30 * 86_400),
  CHANNEL_ALLOWED_NETWORKS: env.cidrList(
    'Private, loopback or reserved addresses (IPs or CIDR ranges, comma-separated) channels may deliver to anyway; an IP listed here may also stand in for Slack’s or Discord’s host (a relay). Unset: channels reach public addresses only.',
  ),
  CHANNEL_DELIVERY_POLL_MS: env.int('How often the channel delivery worker looks for due deliveries (it is also woken by each new event).', 1000, 10, 600_000),
  CHANNEL_DELIVERY_TIMEOUT_MS: env.int('How long one channel delivery waits for the target to answer.', 10_000, 100, 120_000),
  CHANNEL_DELIVERY_MAX_ATTEMPTS: env.int('Attempts per channel delivery before it is marked failed.', 8, 1, 100),
  CHANNEL_DELIVERY_BACKOFF_MS: env.int('Delay before the second attempt of a channel delivery; doubled for each attempt after (capped at one hour).', 5000, 10, 3_600_000),
  AGENT_HOME_DIR: env.string('Directory for the agents’ own directories (one per workspace, 0700). Default: <MOLECULE_DATA_DIR>/agents (a temporary directory for memory://).'),
};

export type TenantConfig = EnvOf<typeof tenantEnvSchema>;

export function loadTenantConfig(source: Record<string, string | undefined> = process.env): TenantConfig {
  const config = parseEnv(tenantEnvSchema, source);
  if (config.CP_UPSTREAM_URL !== undefined && config.MOLECULE_ORG_ID === undefined) {
    // Tier 1 proves membership of one org, named by its id: a slug alone is reused once its org is deleted.
    throw new ConfigError([
      'MOLECULE_ORG_ID: required when CP_UPSTREAM_URL is set; set it to the UUID of the org this tenant serves (its id at the control plane), or unset CP_UPSTREAM_URL to run standalone',
    ]);
  }
  const approvalProblems = approvalConfigProblems(config);
  if (approvalProblems.length > 0) throw new ConfigError(approvalProblems);
  if (config.WORKSPACE_PROVISIONER === 'cp') {
    const missing: string[] = [];
    if (!config.CP_UPSTREAM_URL) missing.push('CP_UPSTREAM_URL: required when WORKSPACE_PROVISIONER=cp; set it to the control plane’s base URL (workspaces are provisioned at <CP_UPSTREAM_URL>/cp/workspaces/provision)');
    if (!config.ADMIN_TOKEN) missing.push('ADMIN_TOKEN: required when WORKSPACE_PROVISIONER=cp; set it to this tenant’s admin token from the control plane (it names the org to the CP)');
    if (!config.MOLECULE_CP_SHARED_SECRET && !config.PROVISION_SHARED_SECRET) {
      missing.push('MOLECULE_CP_SHARED_SECRET: required when WORKSPACE_PROVISIONER=cp; set it to the control plane’s PROVISION_SHARED_SECRET (or use WORKSPACE_PROVISIONER=local)');
    }
    if (missing.length > 0) throw new ConfigError(missing);
  }
  return config;
}

/** The provision secret the `cp` workspace provisioner sends (MOLECULE_CP_SHARED_SECRET, else the legacy name). */
export function cpSharedSecretOf(config: TenantConfig): string | undefined {
  return config.MOLECULE_CP_SHARED_SECRET ?? config.PROVISION_SHARED_SECRET;
}

/** What the approval gate (approvals/gate.ts) can hold back. */
export const GATEABLE_ACTIONS = ['secret_write', 'org_token_mint', 'workspace_delete'] as const;
export type GateableAction = (typeof GATEABLE_ACTIONS)[number];
export const GATEABLE_CLASSES = ['org-token', 'admin-token', 'workspace-token', 'bootstrap', 'session'] as const;
// Not admin-token or bootstrap by default: with separation of duties, a tenant whose only human credential is the
// ADMIN_TOKEN would have nobody left to approve its own gated requests. Operators opt in by listing them.
const DEFAULT_GATED_CLASSES = ['org-token', 'workspace-token'];

function listOf(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function approvalConfigProblems(config: TenantConfig): string[] {
  const problems: string[] = [];
  const badActions = listOf(config.APPROVAL_GATED_ACTIONS).filter((a) => !(GATEABLE_ACTIONS as readonly string[]).includes(a));
  if (badActions.length > 0) problems.push(`APPROVAL_GATED_ACTIONS: unknown action(s) ${badActions.join(', ')}; known: ${GATEABLE_ACTIONS.join(', ')}`);
  const badClasses = listOf(config.APPROVAL_GATED_CLASSES).filter((c) => !(GATEABLE_CLASSES as readonly string[]).includes(c));
  if (badClasses.length > 0) problems.push(`APPROVAL_GATED_CLASSES: unknown credential class(es) ${badClasses.join(', ')}; known: ${GATEABLE_CLASSES.join(', ')}`);
  return problems;
}

/** The gate's policy, from config (validated at boot by loadTenantConfig; unknown names here are ignored). */
export function approvalPolicyOf(config: TenantConfig): { actions: ReadonlySet<string>; classes: ReadonlySet<string>; ttlSeconds: number } {
  const classes = listOf(config.APPROVAL_GATED_CLASSES);
  return {
    actions: new Set(listOf(config.APPROVAL_GATED_ACTIONS)),
    classes: new Set(classes.length > 0 ? classes : DEFAULT_GATED_CLASSES),
    ttlSeconds: config.APPROVAL_TTL_SECONDS,
  };
}
