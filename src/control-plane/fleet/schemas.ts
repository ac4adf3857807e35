import { Type, type Static } from 'typebox';
import { Text } from '../../core/http/input.js';
import { literalUnion, Slug, SLUG_PATTERN } from '../orgs/schemas.js';
import { PURGE_STEPS } from '../orgs/purge.js';

/** The typed name that confirms a destructive admin call (reference §2.4): it must equal the slug in the path. */
export const ConfirmSlugRequest = Type.Object(
  {
    confirm: Text({ minLength: 1, maxLength: 64, description: 'The slug in the path, typed again. Missing or different → 400 before anything happens.' }),
  },
  { additionalProperties: false },
);
export type ConfirmSlugRequest = Static<typeof ConfirmSlugRequest>;

export const WorkspaceIdParam = Type.Object({ id: Type.String({ format: 'uuid', description: "The workspace's id at its tenant." }) });

/** The org a workspace route acts in: the CP keeps no workspace → org index (reference §2.4), so the caller names it. */
const OrgSlugField = Type.String({
  pattern: SLUG_PATTERN,
  maxLength: 32,
  'x-error': 'must be the slug of the workspace’s org',
  description: "The workspace's org. Required: the control plane keeps no index of tenants' workspaces.",
});
export const OrgSlugQuery = Type.Object({ org_slug: OrgSlugField });

/** The tenant's answer, passed through unchanged (an object or an array; reference: "200 returns an open object"). */
export const TenantPassThrough = Type.Unsafe<unknown>({ description: "The tenant's own response body, passed through unchanged." });

export const AdminTokenResponse = Type.Object({
  slug: Type.String(),
  // The tenant's break-glass credential in plaintext: this route exists to hand it to an operator (reference §2.4).
  admin_token: Type.String(),
});

export const RotatedAdminToken = Type.Object({
  slug: Type.String(),
  // The new token, shown here and by GET …/admin-token; the old one stopped matching when it was minted.
  admin_token: Type.String(),
  rotated_at: Type.String({ format: 'date-time' }),
  tenant_restarted: Type.Boolean({ description: 'The tenant was restarted with the new token and answered /health.' }),
});

export const PurgeStepSchema = Type.Object({
  step: literalUnion(PURGE_STEPS),
  outcome: literalUnion(['done', 'already_done', 'skipped'] as const),
  detail: Type.Optional(Type.String()),
});

export const TenantDeleted = Type.Object({
  slug: Type.String(),
  deleted: Type.Literal(true),
  steps: Type.Array(PurgeStepSchema, { description: 'What each step of the cascade did; `already_done` by an earlier, interrupted delete.' }),
});

export const ScrubResult = Type.Object({ slug: Type.String(), removed: Type.Array(Type.String()) });

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const TenantDiagnosticsSchema = Type.Object({
  backend: Type.String(),
  running: Type.Boolean(),
  pid: Nullable(Type.Integer()),
  url: Nullable(Type.String()),
  uptime_seconds: Type.Number(),
  rss_bytes: Nullable(Type.Number()),
  restarts: Type.Integer(),
  last_exit: Nullable(Type.Object({ code: Nullable(Type.Integer()), signal: Nullable(Type.String()), at: Type.String() })),
  database: Nullable(Type.String()),
  migration_version: Nullable(Type.String()),
  recent_log_lines: Type.Array(Type.String()),
});

export const TenantDiagnosticsResponse = Type.Object({
  slug: Type.String(),
  org_id: Type.String({ format: 'uuid' }),
  instance: Nullable(
    Type.Object({
      status: Type.String(),
      stage: Type.String(),
      url: Nullable(Type.String()),
      last_error: Nullable(Type.String()),
      restarts: Type.Integer(),
      started_at: Nullable(Type.String({ format: 'date-time' })),
    }),
  ),
  process: Nullable(TenantDiagnosticsSchema),
  boot_events: Type.Array(Type.Object({ stage: Type.String(), detail: Nullable(Type.String()), at: Type.String({ format: 'date-time' }) }), {
    description: 'The newest 20, newest first.',
  }),
});

const TargetTag = Text({
  maxLength: 128,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
  'x-error': 'must be an image tag: letters, digits, dots, dashes and underscores',
  description: 'The image tag to roll out (reference). The local-process backend runs the CP’s own build: accepted, recorded, not used.',
});

export const RedeployRequest = Type.Object(
  {
    dry_run: Type.Optional(Type.Boolean({ default: false })),
    target_tag: Type.Optional(TargetTag),
  },
  { additionalProperties: false },
);
export type RedeployRequest = Static<typeof RedeployRequest>;

export const RedeployResponse = Type.Union([
  Type.Object({ slug: Type.String(), dry_run: Type.Literal(true), would: Type.Literal('restart') }),
  Type.Object({ slug: Type.String(), ok: Type.Boolean(), healthz_ok: Type.Boolean(), pid: Nullable(Type.Integer()), error: Type.Optional(Type.String()) }),
]);

export const FleetRedeployRequest = Type.Object(
  {
    confirm: Type.Literal(true, { description: 'Required, and must be true (reference §2.4).' }),
    dry_run: Type.Optional(Type.Boolean({ default: false })),
    batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 3 })),
    canary_slug: Type.Optional(
      Text({ maxLength: 32, pattern: '^$|^[a-z][a-z0-9-]{2,31}$', 'x-error': 'must be empty or a slug', description: 'Redeployed first, alone; a failed canary stops the rollout. "" = none.' }),
    ),
    only_slugs: Type.Optional(Type.Array(Slug, { minItems: 1, maxItems: 500, uniqueItems: true, description: 'Only these tenants. Non-empty when given.' })),
    max_stragglers: Type.Optional(Type.Integer({ minimum: 0, maximum: 500, default: 1, description: 'A batch with more failures than this halts the rollout.' })),
    soak_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 600, default: 0, description: 'Wait after a healthy canary before the first batch.' })),
    target_tag: Type.Optional(TargetTag),
  },
  { additionalProperties: false },
);
export type FleetRedeployRequest = Static<typeof FleetRedeployRequest>;

export const FLEET_STATUSES = ['DryRun', 'Success', 'Failed', 'Skipped'] as const;
export type FleetStatus = (typeof FLEET_STATUSES)[number];

export const FleetTenantResult = Type.Object({
  slug: Type.String(),
  phase: Type.String({ description: '`canary`, `batch-<n>` (from 1), or `skipped`.' }),
  status: literalUnion(FLEET_STATUSES),
  ssm_status: literalUnion(FLEET_STATUSES, { description: 'The same value as `status`, under the reference’s field name.' }),
  healthz_ok: Nullable(Type.Boolean({ description: 'Null when the tenant was not redeployed (dry run, skipped).' })),
  error: Type.Optional(Type.String()),
});
export type FleetTenantResult = Static<typeof FleetTenantResult>;

export const FleetRedeployResponse = Type.Object({
  ok: Type.Boolean(),
  dry_run: Type.Boolean(),
  target_tag: Nullable(Type.String()),
  results: Type.Array(FleetTenantResult),
});
export type FleetRedeployResponse = Static<typeof FleetRedeployResponse>;

/** An environment variable name, as the tenant's secrets take it (src/tenant/secrets/schemas.ts). */
export const ENV_KEY_PATTERN = '^[A-Z_][A-Z0-9_]*$';

export const WorkspaceEnvRequest = Type.Object(
  {
    env: Type.Record(
      Type.String({ pattern: ENV_KEY_PATTERN, maxLength: 128 }),
      Text({ minLength: 1, maxLength: 65536 }),
      {
        minProperties: 1,
        maxProperties: 100,
        // A name that does not match is refused, not ignored; and names are at most 128 characters, as at the tenant.
        additionalProperties: false,
        propertyNames: { maxLength: 128 },
        'x-error': 'must be an object of 1-100 NAME: value pairs (names: A-Z, 0-9 and _, not starting with a digit; values: 1-65536 characters)',
        description: 'The variables to set, 1 to 100.',
      },
    ),
    merge: Type.Optional(Type.Boolean({ default: true, description: 'false: every other secret of the workspace is removed (the org-wide ones stay).' })),
    force: Type.Optional(Type.Boolean({ default: false, description: 'Allow names containing TOKEN, SECRET, KEY or PASSWORD. Platform-owned names stay refused.' })),
    org_slug: OrgSlugField,
  },
  { additionalProperties: false },
);
export type WorkspaceEnvRequest = Static<typeof WorkspaceEnvRequest>;

export const WorkspaceEnvResponse = Type.Object({
  ok: Type.Literal(true),
  workspace_id: Type.String(),
  applied_keys: Type.Array(Type.String()),
  removed_keys: Type.Array(Type.String()),
  env_keys_after: Type.Array(Type.String(), { description: "Every secret name the workspace's process gets: its own and the org-wide ones." }),
  container_restarted: Type.Boolean({ description: 'The tenant restarted the workspace’s process (false: an external workspace, or a tenant that runs no workspaces).' }),
});

export const BILLING_MODES = ['platform_managed', 'byok', 'disabled'] as const;
export const LlmBillingModeRequest = Type.Object(
  {
    mode: Type.Union([...BILLING_MODES.map((m) => Type.Literal(m)), Type.Null()], {
      'x-error': `must be one of ${BILLING_MODES.join(', ')}, or null to clear`,
      description: 'null clears the workspace override. Checked here, before the tenant is called.',
    }),
  },
  { additionalProperties: false },
);
export type LlmBillingModeRequest = Static<typeof LlmBillingModeRequest>;
