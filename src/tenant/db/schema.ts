import type { ColumnType } from 'kysely';
import type { AuditSchema } from '../../core/audit/schema.js';
import type { IdempotencySchema } from '../../core/http/idempotency-store.js';

/** Kysely table types for the tenant database: the one place its shape is written in TypeScript. */

export const WORKSPACE_STATUSES = [
  'provisioning',
  'online',
  'offline',
  'degraded',
  'failed',
  'removed',
  'paused',
  'hibernated',
  'hibernating',
  'awaiting_agent',
] as const;
export type WorkspaceStatus = (typeof WORKSPACE_STATUSES)[number];

export const ROLES = ['reader', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** A column with a database default: optional on insert. */
type WithDefault<T> = ColumnType<T, T | undefined, T>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface WorkspacesTable {
  id: string;
  name: string;
  role: string | null;
  tier: WithDefault<number>;
  status: WithDefault<WorkspaceStatus>;
  runtime: WithDefault<string>;
  template: string | null;
  model: string | null;
  parent_id: string | null;
  url: WithDefault<string>;
  /** Platform messages only (readers see it); never process output. */
  last_error: string | null;
  /** The last `sample_error` a runtime reported: shown only by the admin logs route, redacted. */
  last_sample_error: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
  removed_at: NullableTimestamp;
  external: WithDefault<boolean>;
  delivery_mode: WithDefault<'push' | 'poll'>;
  workspace_dir: string | null;
  workspace_access: WithDefault<'none' | 'read_only' | 'read_write'>;
  /** Legacy single limit in cents, kept equal to budget_limits.monthly. */
  budget_limit: number | null;
  budget_limits: ColumnType<BudgetLimits, string | undefined, string>;
  monthly_spend: WithDefault<number>;
  llm_billing_mode: LlmBillingMode | null;
  max_concurrent_tasks: WithDefault<number>;
  last_heartbeat_at: NullableTimestamp;
  agent_card: ColumnType<unknown, string | null | undefined, string | null>;
  active_tasks: WithDefault<number>;
  uptime_seconds: WithDefault<number>;
  current_task: string | null;
  last_error_rate: WithDefault<number>;
  restart_count: WithDefault<number>;
  config: ColumnType<Record<string, unknown>, string | undefined, string>;
}

export const BUDGET_PERIODS = ['hourly', 'daily', 'weekly', 'monthly'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];
export type BudgetLimits = Partial<Record<BudgetPeriod, number | null>>;

export const LLM_BILLING_MODES = ['platform_managed', 'byok', 'disabled'] as const;
export type LlmBillingMode = (typeof LLM_BILLING_MODES)[number];

export interface WorkspaceSecretsTable {
  workspace_id: string;
  key: string;
  /** base64(nonce ‖ ciphertext ‖ tag), AES-256-GCM. */
  ciphertext: string;
  /** Which key encrypted it (see core/crypto). */
  key_id: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface GlobalSecretsTable {
  key: string;
  ciphertext: string;
  key_id: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WorkspaceEventsTable {
  id: ColumnType<number, never, never>;
  event_type: string;
  workspace_id: string | null;
  payload: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: Timestamp;
}

export interface WorkspaceSpendEventsTable {
  id: ColumnType<number, never, never>;
  workspace_id: string;
  delta_cents: number;
  occurred_at: Timestamp;
}

export interface OrgApiTokensTable {
  id: string;
  token_hash: string;
  prefix: string;
  name: string | null;
  role: Role;
  workspace_ids: string[] | null;
  expires_at: NullableTimestamp;
  created_by: string;
  org_id: string | null;
  rotated_from: string | null;
  /** Set on the old key by a rotation: the key is retiring (works until its grace ends, manages no keys). */
  replaced_by: string | null;
  /** Every gated action and every delete this key attempts needs a human approval (approvals/gate.ts). */
  approval_required: WithDefault<boolean>;
  created_at: Timestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface WorkspaceTokensTable {
  id: string;
  workspace_id: string;
  token_hash: string;
  prefix: string;
  kind: 'api' | 'instance';
  created_by: string;
  created_at: Timestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export type TemplateSource = 'builtin' | 'dir' | 'api';

export interface TemplatesTable {
  /** The normalised name (import) or directory name (built-in, MOLECULE_TEMPLATES_DIR). */
  id: string;
  name: string;
  description: WithDefault<string>;
  /** The current version; its files are template_files rows with this version. */
  version: WithDefault<number>;
  source: TemplateSource;
  /** The parsed config.yaml of the current version (core/templates/config.ts TemplateConfig). */
  config: ColumnType<Record<string, unknown>, string, string>;
  /** sha256 over the current version's files: an unchanged directory is not a new version. */
  digest: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface TemplateFilesTable {
  template_id: string;
  version: number;
  path: string;
  content: Buffer;
}

/** A workspace's own files (bundles/store.ts), overlaid on its template's; `path` is relative and normalised. */
export interface WorkspaceFilesTable {
  workspace_id: string;
  path: string;
  /** node-postgres reads bytea as a Buffer, PGlite as a Uint8Array. */
  content: ColumnType<Uint8Array, Buffer, Buffer>;
}

/** The org's plugin allowlist (plugins/store.ts): empty means every catalog plugin may be installed (reference §3.14). */
export interface OrgPluginAllowlistTable {
  plugin_name: string;
  enabled_by: string;
  enabled_at: Timestamp;
}

/** A plugin installed in a workspace: the catalog entry's name, version and the source it was asked for by. */
export interface WorkspacePluginsTable {
  workspace_id: string;
  name: string;
  version: string;
  source: string;
  installed_by: string;
  installed_at: Timestamp;
}

/** An installed plugin's files (a snapshot taken at install); materialised under plugins/<name>/<path>. */
export interface WorkspacePluginFilesTable {
  workspace_id: string;
  plugin_name: string;
  path: string;
  content: ColumnType<Uint8Array, Buffer, Buffer>;
}

export const APPROVAL_STATUSES = ['pending', 'approved', 'denied', 'withdrawn', 'consumed'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/** approvals (approvals/store.ts). A pending or approved row past expires_at reads `expired`; nothing rewrites it. */
export interface ApprovalsTable {
  id: string;
  workspace_id: string | null;
  task_id: WithDefault<string>;
  action: string;
  reason: WithDefault<string>;
  context: ColumnType<Record<string, unknown>, string | undefined, string>;
  request_hash: string | null;
  status: WithDefault<ApprovalStatus>;
  requested_by: string;
  decided_by: string | null;
  decided_at: NullableTimestamp;
  expires_at: Timestamp;
  consumed_at: NullableTimestamp;
  created_at: Timestamp;
}

/** A notification channel (channels/): the config sealed whole, its masked form for reads. */
export interface ChannelsTable {
  id: string;
  workspace_id: string;
  type: 'slack' | 'discord' | 'webhook';
  config_ciphertext: string;
  config_key_id: string;
  config_masked: ColumnType<Record<string, unknown>, string, string>;
  allowed_users: ColumnType<string[], string, string>;
  enabled: WithDefault<boolean>;
  events: ColumnType<string[], string, string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type ChannelDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** The delivery outbox (channels/delivery.ts). */
export interface ChannelDeliveriesTable {
  id: string;
  channel_id: string;
  workspace_id: string;
  event_id: ColumnType<number | null, number | null | undefined, never>;
  event_type: string;
  payload: ColumnType<Record<string, unknown>, string, string>;
  status: WithDefault<ChannelDeliveryStatus>;
  attempts: WithDefault<number>;
  last_status_code: ColumnType<number | null, number | null | undefined, number | null>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  next_attempt_at: Timestamp;
  created_at: Timestamp;
  delivered_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface ChannelDeliveryAttemptsTable {
  delivery_id: string;
  attempt: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  attempted_at: Timestamp;
}

export interface ChannelEventCursorTable {
  id: number;
  last_event_id: ColumnType<number, number, number>;
}

export interface TenantSchema extends AuditSchema, IdempotencySchema {
  approvals: ApprovalsTable;
  channels: ChannelsTable;
  channel_deliveries: ChannelDeliveriesTable;
  channel_delivery_attempts: ChannelDeliveryAttemptsTable;
  channel_event_cursor: ChannelEventCursorTable;
  templates: TemplatesTable;
  template_files: TemplateFilesTable;
  workspace_secrets: WorkspaceSecretsTable;
  global_secrets: GlobalSecretsTable;
  workspace_events: WorkspaceEventsTable;
  workspace_spend_events: WorkspaceSpendEventsTable;
  workspaces: WorkspacesTable;
  org_api_tokens: OrgApiTokensTable;
  workspace_tokens: WorkspaceTokensTable;
  workspace_files: WorkspaceFilesTable;
  org_plugin_allowlist: OrgPluginAllowlistTable;
  workspace_plugins: WorkspacePluginsTable;
  workspace_plugin_files: WorkspacePluginFilesTable;
  canvas_viewport: CanvasViewportTable;
  org_key_policy: OrgKeyPolicyTable;
}

/** The org key policy (one row, id 1; absent: no policy), enforced when a key is minted. */
export interface OrgKeyPolicyTable {
  id: number;
  max_lifetime_days: number | null;
  require_expiry: boolean;
  updated_by: string;
  updated_at: WithDefault<Date>;
}

/** The canvas's last saved viewport (one row, id 1). */
export interface CanvasViewportTable {
  id: number;
  x: number;
  y: number;
  zoom: number;
  updated_by: string;
  updated_at: WithDefault<Date>;
}
