import type { Migration } from '../../core/db/migrate.js';
import { AUDIT_CHAIN_DDL } from '../../core/audit/schema.js';
import { IDEMPOTENCY_MIGRATION_STATEMENTS } from '../../core/http/idempotency-store.js';
import { WORKSPACE_STATUSES } from './schema.js';

const statusList = WORKSPACE_STATUSES.map((s) => `'${s}'`).join(', ');

/** Moves the unkeyed `value_hash` of stored SECRET_SET events aside, for the boot step in secrets/value-hash.ts. */
export const VALUE_HASH_MIGRATION_ID = '202611250002_secret_value_hash_keyed';

/** The tenant database's history. Forward-only: add a new entry, never edit a landed one. */
export const tenantMigrations: readonly Migration[] = [
  {
    id: '202611220001_workspaces',
    statements: [
      `create table if not exists workspaces (
        id uuid primary key,
        name text not null,
        role text,
        tier integer not null default 3,
        status text not null default 'provisioning' check (status in (${statusList})),
        runtime text not null default '',
        template text,
        model text,
        parent_id uuid references workspaces(id),
        url text not null default '',
        last_error text,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        removed_at timestamptz
      )`,
      // One live name per parent (the reference's workspaces_parent_name_uniq); tombstones do not count.
      `create unique index if not exists workspaces_parent_name_uniq
        on workspaces ((coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid)), name)
        where status <> 'removed'`,
      `create index if not exists workspaces_parent_idx on workspaces (parent_id) where status <> 'removed'`,
      `create index if not exists workspaces_created_idx on workspaces (created_at)`,
    ],
  },
  {
    id: '202611220002_org_api_tokens',
    statements: [
      `create table if not exists org_api_tokens (
        id text primary key,
        token_hash text not null unique,
        prefix text not null,
        name text,
        role text not null default 'admin' check (role in ('admin', 'editor', 'reader')),
        workspace_ids uuid[],
        expires_at timestamptz,
        created_by text not null,
        org_id uuid,
        rotated_from text,
        created_at timestamptz not null default now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      )`,
      // The auth hot path: one equality over live rows only, so 100k revoked keys cost nothing (DESIGN.md §4).
      `create index if not exists org_api_tokens_live_hash on org_api_tokens (token_hash) where revoked_at is null`,
      `create index if not exists org_api_tokens_live_created on org_api_tokens (created_at desc) where revoked_at is null`,
    ],
  },
  {
    id: '202611220003_workspace_tokens',
    statements: [
      `create table if not exists workspace_tokens (
        id text primary key,
        workspace_id uuid not null references workspaces(id) on delete cascade,
        token_hash text not null unique,
        prefix text not null,
        kind text not null default 'api' check (kind in ('api', 'instance')),
        created_by text not null,
        created_at timestamptz not null default now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      )`,
      `create index if not exists workspace_tokens_live_hash on workspace_tokens (token_hash) where revoked_at is null`,
      `create index if not exists workspace_tokens_live_ws on workspace_tokens (workspace_id, created_at desc) where revoked_at is null`,
    ],
  },
  { id: '202611220004_audit_chain', statements: AUDIT_CHAIN_DDL },
  {
    id: '202611220005_workspace_runtime',
    statements: [
      `alter table workspaces add column if not exists external boolean not null default false`,
      `alter table workspaces add column if not exists delivery_mode text not null default 'push' check (delivery_mode in ('push', 'poll'))`,
      `alter table workspaces add column if not exists workspace_dir text`,
      `alter table workspaces add column if not exists workspace_access text not null default 'none' check (workspace_access in ('none', 'read_only', 'read_write'))`,
      `alter table workspaces add column if not exists budget_limit bigint check (budget_limit >= 0)`,
      `alter table workspaces add column if not exists budget_limits jsonb not null default '{}'`,
      `alter table workspaces add column if not exists monthly_spend bigint not null default 0`,
      `alter table workspaces add column if not exists llm_billing_mode text check (llm_billing_mode in ('platform_managed', 'byok', 'disabled'))`,
      `alter table workspaces add column if not exists max_concurrent_tasks integer not null default 1`,
      `alter table workspaces add column if not exists last_heartbeat_at timestamptz`,
      `alter table workspaces add column if not exists agent_card jsonb`,
      `alter table workspaces add column if not exists active_tasks integer not null default 0`,
      `alter table workspaces add column if not exists uptime_seconds integer not null default 0`,
      `alter table workspaces add column if not exists current_task text`,
      `alter table workspaces add column if not exists last_error_rate double precision not null default 0`,
      `alter table workspaces add column if not exists restart_count integer not null default 0`,
      // Reference fields we accept and keep but do not interpret yet (compute, canvas, initial_memories, …).
      `alter table workspaces add column if not exists config jsonb not null default '{}'`,
      `create table if not exists workspace_secrets (
        workspace_id uuid not null references workspaces(id) on delete cascade,
        key text not null,
        ciphertext text not null,
        key_id text not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (workspace_id, key)
      )`,
      `create table if not exists global_secrets (
        key text primary key,
        ciphertext text not null,
        key_id text not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`,
      `create table if not exists workspace_events (
        id bigint generated always as identity primary key,
        event_type text not null,
        workspace_id uuid,
        payload jsonb not null default '{}',
        created_at timestamptz not null default now()
      )`,
      `create index if not exists workspace_events_ws on workspace_events (workspace_id, id)`,
      `create table if not exists workspace_spend_events (
        id bigint generated always as identity primary key,
        workspace_id uuid not null references workspaces(id) on delete cascade,
        delta_cents bigint not null check (delta_cents > 0),
        occurred_at timestamptz not null default now()
      )`,
      `create index if not exists workspace_spend_events_ws on workspace_spend_events (workspace_id, occurred_at desc)`,
    ],
  },
  {
    // A rotated key is retiring: it keeps working until its grace ends but may no longer manage keys, or it could
    // revoke its own replacement (issue 7, item 6). The link also shows in the key list.
    id: '202611250001_org_api_tokens_replaced_by',
    statements: [`alter table org_api_tokens add column if not exists replaced_by text`],
  },
  {
    // value_hash used to be sha256(value)[:8], testable offline by any reader of /events. SQL cannot compute the keyed
    // replacement (it needs the decrypted value and the key), so the old hash moves out of `value_hash` here and the
    // tenant's boot (upgradeLegacyValueHashes) recomputes or drops it before serving. The partial index keeps that
    // boot query an index scan over the few rows still waiting, not a scan of every event.
    id: VALUE_HASH_MIGRATION_ID,
    statements: [
      `update workspace_events
         set payload = (payload - 'value_hash') || jsonb_build_object('legacy_value_hash', payload->'value_hash')
         where event_type = 'SECRET_SET' and payload ? 'value_hash'`,
      `create index if not exists workspace_events_legacy_value_hash on workspace_events (id) where payload ? 'legacy_value_hash'`,
    ],
  },
  {
    // What a runtime reports as its sample error (and so possibly an agent's output) is kept apart from last_error,
    // which readers see. Earlier versions copied it into last_error on `degraded` and never cleared it on recovery;
    // failed and offline rows were always overwritten with the platform's own messages, every other status may
    // still hold a reported error, so it moves over.
    id: '202611250003_workspace_sample_error',
    statements: [
      `alter table workspaces add column if not exists last_sample_error text`,
      `update workspaces set last_sample_error = last_error, last_error = null
         where last_error is not null and status not in ('failed', 'offline')`,
    ],
  },
  {
    // Workspace templates live in the database (issue 10 item 1), so every replica sees one set: a row per template
    // (its current version, where it came from, its parsed config.yaml and a digest of its files) and its files as
    // rows per version. Only the current and the previous version's files are kept (src/tenant/templates/store.ts).
    id: '202611270001_templates',
    statements: [
      `create table if not exists templates (
        id text primary key,
        name text not null,
        description text not null default '',
        version integer not null default 1,
        source text not null check (source in ('builtin', 'dir', 'api')),
        config jsonb not null default '{}',
        digest text not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`,
      `create table if not exists template_files (
        template_id text not null references templates(id) on delete cascade,
        version integer not null,
        path text not null,
        content bytea not null,
        primary key (template_id, version, path)
      )`,
    ],
  },
  {
    // A workspace's own files (src/tenant/bundles): what a bundle import wrote — system-prompt.md, prompts,
    // skills/<id>/<path> — overlaid on its template's files. Paths are checked before they are stored
    // (bundles/sanitise.ts): relative, normalised, no `..`.
    id: '202611270003_workspace_files',
    statements: [
      `create table if not exists workspace_files (
        workspace_id uuid not null references workspaces(id) on delete cascade,
        path text not null,
        content bytea not null,
        primary key (workspace_id, path)
      )`,
    ],
  },
  {
    // Approvals (issue 11; reference §3.15, §6.6). A row per human decision asked for: by a workspace's agent
    // (POST /workspaces/:id/approvals) or by the approval gate for a gated request (approvals/gate.ts). workspace_id is
    // null for org-wide actions (global secrets, org key mints). `request_hash` binds a gate approval to exactly one
    // request (method, route, workspace, principal, and a keyed hash of any secret value — never the value itself);
    // `context` shows the approver what was asked, with values only as hashes. A gate approval is used once: consumed_at.
    // Org keys gain approval_required (the key to give an AI agent: every gated action and every delete needs approval).
    id: '202611280001_approvals',
    statements: [
      `create table if not exists approvals (
        id text primary key,
        workspace_id uuid references workspaces(id) on delete cascade,
        task_id text not null default '',
        action text not null,
        reason text not null default '',
        context jsonb not null default '{}',
        request_hash text,
        status text not null default 'pending' check (status in ('pending', 'approved', 'denied', 'withdrawn', 'consumed')),
        requested_by text not null,
        decided_by text,
        decided_at timestamptz,
        expires_at timestamptz not null,
        consumed_at timestamptz,
        created_at timestamptz not null default now()
      )`,
      `create index if not exists approvals_workspace_idx on approvals (workspace_id, id desc)`,
      `create index if not exists approvals_pending_idx on approvals (id desc) where status = 'pending'`,
      `create index if not exists approvals_request_hash_idx on approvals (request_hash, status) where request_hash is not null`,
      `alter table org_api_tokens add column if not exists approval_required boolean not null default false`,
    ],
  },
  {
    // Plugins (issue 11 item 3, src/tenant/plugins). The allowlist has no org column: a tenant database holds exactly
    // one org, so a row here governs every workspace of it however deep (the reference keys it by the org root and
    // then resolves only one level up, §10.10). An installed plugin is a snapshot of the catalog entry's files, kept
    // here so every replica materialises the same bytes; they land under plugins/<name>/ in the workspace.
    id: '202611280011_plugins',
    statements: [
      `create table if not exists org_plugin_allowlist (
        plugin_name text primary key,
        enabled_by text not null,
        enabled_at timestamptz not null default now()
      )`,
      `create table if not exists workspace_plugins (
        workspace_id uuid not null references workspaces(id) on delete cascade,
        name text not null,
        version text not null,
        source text not null,
        installed_by text not null,
        installed_at timestamptz not null default now(),
        primary key (workspace_id, name)
      )`,
      `create table if not exists workspace_plugin_files (
        workspace_id uuid not null,
        plugin_name text not null,
        path text not null,
        content bytea not null,
        primary key (workspace_id, plugin_name, path),
        foreign key (workspace_id, plugin_name) references workspace_plugins(workspace_id, name) on delete cascade
      )`,
    ],
  },
  {
    // Notification channels (issue 11 item 4, src/tenant/channels): a workspace's Slack / Discord / signed-webhook
    // targets. `config_ciphertext` is the whole config (URLs, tokens, signing secret) sealed like a secret, bound to
    // the channel id; `config_masked` is what reads show. Deliveries are an outbox: a row per (channel, event), sent
    // by a worker that leases rows (`next_attempt_at`) with FOR UPDATE SKIP LOCKED, so replicas never double-send and
    // a restart resumes them. The cursor row remembers the last workspace_events id turned into deliveries; it
    // starts at the newest event when this migration runs, so history is never replayed to new channels.
    id: '202611280021_channels',
    statements: [
      `create table if not exists channels (
        id uuid primary key,
        workspace_id uuid not null references workspaces(id) on delete cascade,
        type text not null check (type in ('slack', 'discord', 'webhook')),
        config_ciphertext text not null,
        config_key_id text not null,
        config_masked jsonb not null default '{}',
        allowed_users jsonb not null default '[]',
        enabled boolean not null default true,
        events jsonb not null default '[]',
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`,
      `create index if not exists channels_workspace on channels (workspace_id, created_at)`,
      `create table if not exists channel_deliveries (
        id uuid primary key,
        channel_id uuid not null references channels(id) on delete cascade,
        workspace_id uuid not null,
        event_id bigint,
        event_type text not null,
        payload jsonb not null default '{}',
        status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
        attempts integer not null default 0,
        last_status_code integer,
        last_error text,
        next_attempt_at timestamptz not null default now(),
        created_at timestamptz not null default now(),
        delivered_at timestamptz
      )`,
      `create unique index if not exists channel_deliveries_event on channel_deliveries (channel_id, event_id) where event_id is not null`,
      `create index if not exists channel_deliveries_due on channel_deliveries (next_attempt_at) where status = 'pending'`,
      `create index if not exists channel_deliveries_channel on channel_deliveries (channel_id, created_at desc)`,
      `create table if not exists channel_delivery_attempts (
        delivery_id uuid not null references channel_deliveries(id) on delete cascade,
        attempt integer not null,
        status_code integer,
        error text,
        duration_ms integer not null default 0,
        attempted_at timestamptz not null default now(),
        primary key (delivery_id, attempt)
      )`,
      `create table if not exists channel_event_cursor (
        id integer primary key check (id = 1),
        last_event_id bigint not null
      )`,
      `insert into channel_event_cursor (id, last_event_id) select 1, coalesce(max(id), 0) from workspace_events on conflict (id) do nothing`,
    ],
  },
  {
    // The canvas viewport (PUT /canvas/viewport, reference §1): one row per org tenant, the last one saved.
    id: '202611280031_catalogue',
    statements: [
      `create table if not exists canvas_viewport (
        id smallint primary key check (id = 1),
        x double precision not null,
        y double precision not null,
        zoom double precision not null,
        updated_by text not null,
        updated_at timestamptz not null default now()
      )`,
    ],
  },
  {
    // Issue 13: Idempotency-Key on every POST (src/core/http/idempotency.ts). One row per key and caller; it holds only
    // hashes, an HMAC fingerprint and the sealed response, never the request, the credential or a plaintext response.
    id: '202611290101_idempotency',
    statements: [...IDEMPOTENCY_MIGRATION_STATEMENTS],
  },
  {
    // Issue 14: the org key policy (GET/PUT /org/settings/key-policy), one row; absent = no policy.
    id: '202611290301_key_policy',
    statements: [
      `create table if not exists org_key_policy (
        id smallint primary key check (id = 1),
        max_lifetime_days integer check (max_lifetime_days is null or max_lifetime_days between 1 and 3650),
        require_expiry boolean not null default false,
        updated_by text not null,
        updated_at timestamptz not null default now()
      )`,
    ],
  },
];
