import { AUDIT_CHAIN_DDL } from '../../core/audit/schema.js';
import { IDEMPOTENCY_MIGRATION_STATEMENTS } from '../../core/http/idempotency-store.js';
import type { Migration } from '../../core/db/migrate.js';
import { BILLING_SESSION_KINDS, INSTANCE_STATUSES, MEMBER_ROLES, ORG_STATUSES, PLAN_IDS } from './schema.js';

const list = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');

/** The control plane database's history. Forward-only: add a new entry, never edit a landed one. */
export const controlPlaneMigrations: readonly Migration[] = [
  {
    id: '202611220101_identity',
    statements: [
      `create table if not exists users (
        id text primary key,
        email text not null unique,
        name text,
        password_hash text,
        terms_version text,
        terms_accepted_at timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`,
      `create table if not exists user_identities (
        provider text not null,
        subject text not null,
        user_id text not null references users(id) on delete cascade,
        email text,
        created_at timestamptz not null default now(),
        primary key (provider, subject)
      )`,
      `create table if not exists sessions (
        id text primary key,
        token_hash text not null,
        user_id text not null references users(id) on delete cascade,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null,
        revoked_at timestamptz,
        client_ip text
      )`,
      // Lookup is one equality on the hash over live rows (DESIGN.md §4).
      `create unique index if not exists sessions_live_hash on sessions (token_hash) where revoked_at is null`,
      `create index if not exists sessions_user on sessions (user_id)`,
      `create table if not exists oidc_states (
        state_hash text primary key,
        provider text not null,
        code_verifier text not null,
        nonce text not null,
        return_to text,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null
      )`,
    ],
  },
  {
    id: '202611220102_organizations',
    statements: [
      `create table if not exists organizations (
        id uuid primary key,
        slug text not null unique,
        name text not null,
        plan text not null default 'free' check (plan in (${list(PLAN_IDS)})),
        status text not null default 'provisioning' check (status in (${list(ORG_STATUSES)})),
        provider text not null default 'local',
        is_canary boolean not null default false,
        credits_balance bigint not null default 0,
        plan_monthly_credits bigint not null default 0,
        overage_used_credits bigint not null default 0,
        overage_cap_credits bigint not null default 0,
        last_error text,
        created_by text not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`,
      `create index if not exists organizations_created on organizations (created_at, id)`,
      `create table if not exists org_members (
        org_id uuid not null references organizations(id) on delete cascade,
        user_id text not null,
        role text not null check (role in (${list(MEMBER_ROLES)})),
        invited_by text,
        created_at timestamptz not null default now(),
        primary key (org_id, user_id)
      )`,
      `create index if not exists org_members_user on org_members (user_id)`,
      `create table if not exists org_invitations (
        id text primary key,
        org_id uuid not null references organizations(id) on delete cascade,
        token_hash text not null unique,
        prefix text not null,
        email text,
        role text not null check (role in (${list(MEMBER_ROLES)})),
        invited_by text not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null,
        accepted_at timestamptz,
        accepted_by text,
        revoked_at timestamptz
      )`,
      `create index if not exists org_invitations_org on org_invitations (org_id, created_at)`,
      `create table if not exists org_instances (
        org_id uuid primary key references organizations(id) on delete cascade,
        status text not null check (status in (${list(INSTANCE_STATUSES)})),
        stage text not null,
        progress integer not null default 0 check (progress between 0 and 100),
        message text not null default '',
        eta_seconds integer not null default 0 check (eta_seconds >= 0),
        url text,
        region text,
        ip text,
        last_error text,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`,
      // Kept after the org row is gone: who purged which slug, when (GDPR Art. 17 accountability).
      `create table if not exists org_purges (
        id text primary key,
        org_id uuid not null,
        slug text not null,
        purged_by text not null,
        purged_at timestamptz not null default now()
      )`,
    ],
  },
  {
    id: '202611220103_billing',
    statements: [
      `create table if not exists credit_ledger (
        id text primary key,
        org_id uuid not null references organizations(id) on delete cascade,
        delta bigint not null,
        balance_after bigint not null,
        reason text not null,
        reference text,
        created_by text not null,
        created_at timestamptz not null default now()
      )`,
      `create index if not exists credit_ledger_org on credit_ledger (org_id, created_at)`,
      `create table if not exists invoices (
        id text primary key,
        org_id uuid not null references organizations(id) on delete cascade,
        number text not null unique,
        description text not null,
        amount_cents bigint not null check (amount_cents >= 0),
        currency text not null default 'usd',
        status text not null check (status in ('paid', 'open', 'void')),
        lines jsonb not null default '[]',
        created_at timestamptz not null default now(),
        paid_at timestamptz
      )`,
      `create index if not exists invoices_org on invoices (org_id, created_at)`,
      `create table if not exists billing_sessions (
        id text primary key,
        org_id uuid not null references organizations(id) on delete cascade,
        kind text not null check (kind in (${list(BILLING_SESSION_KINDS)})),
        plan text check (plan in (${list(PLAN_IDS)})),
        credits bigint,
        amount_cents bigint,
        success_url text,
        cancel_url text,
        return_url text,
        status text not null default 'pending' check (status in ('pending', 'completed', 'cancelled', 'expired')),
        created_by text not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null,
        completed_at timestamptz,
        completed_by text
      )`,
    ],
  },
  { id: '202611220104_audit', statements: AUDIT_CHAIN_DDL },
  {
    // Org creation looks up the newest purge of a slug (its tombstone) on every create.
    id: '202611250101_slug_tombstones',
    statements: [`create index if not exists org_purges_slug on org_purges (slug, purged_at desc)`],
  },
  {
    // Existing users start unverified: nothing ever proved their addresses (issue 7, item 9).
    id: '202611250102_email_verification',
    statements: [
      `alter table users add column if not exists email_verified_at timestamptz`,
      `create table if not exists email_verifications (
        token_hash text primary key,
        user_id text not null references users(id) on delete cascade,
        email text not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null
      )`,
      `create index if not exists email_verifications_user on email_verifications (user_id)`,
    ],
  },
  {
    // Issue 9: the local-process tenant provisioner. The admin token is stored encrypted, found by its hash.
    id: '202611260101_tenant_provisioning',
    statements: [
      `alter table org_instances add column if not exists admin_token_ciphertext text`,
      `alter table org_instances add column if not exists admin_token_key_id text`,
      `alter table org_instances add column if not exists admin_token_hash text`,
      `alter table org_instances add column if not exists database_name text`,
      `alter table org_instances add column if not exists pid integer`,
      `alter table org_instances add column if not exists restarts integer not null default 0`,
      `alter table org_instances add column if not exists started_at timestamptz`,
      // Sealed (`<key id>:<ciphertext>`, AES-256-GCM under the CP key): the tenant's database password and its own
      // SECRETS_ENCRYPTION_KEY, both handed to the tenant process in its environment only.
      `alter table org_instances add column if not exists database_password_sealed text`,
      `alter table org_instances add column if not exists secrets_key_sealed text`,
      `alter table org_instances add column if not exists port integer`,
      `alter table org_instances add column if not exists agent_uid_base integer`,
      // Each tenant's agent uid range is its slot × TENANT_AGENT_UID_COUNT: never reused, so no two tenants share uids.
      `create sequence if not exists tenant_slots`,
      `create unique index if not exists org_instances_admin_token on org_instances (admin_token_hash) where admin_token_hash is not null`,
      `create table if not exists org_instance_boot_events (
        id bigserial primary key,
        org_id uuid not null references organizations(id) on delete cascade,
        stage text not null,
        detail text,
        at timestamptz not null default now()
      )`,
      `create index if not exists org_instance_boot_events_org on org_instance_boot_events (org_id, id desc)`,
    ],
  },
  {
    // Issue 9: a tenant's audit chain head, reported to the CP — an anchor outside the tenant's own database.
    id: '202611260102_audit_anchors',
    statements: [
      `create table if not exists tenant_audit_anchors (
        id bigserial primary key,
        org_id uuid not null references organizations(id) on delete cascade,
        event_count bigint not null check (event_count >= 0),
        head_hash text not null,
        reason text not null,
        reported_at timestamptz not null default now()
      )`,
      `create index if not exists tenant_audit_anchors_org on tenant_audit_anchors (org_id, id desc)`,
      // The anchor a chain is held to is the longest one reported (its high-water mark), found by this index.
      `create index if not exists tenant_audit_anchors_high_water on tenant_audit_anchors (org_id, event_count desc, id asc)`,
    ],
  },
  {
    // Issue 9: workspaces run by the control plane (reference §2.5). A pin names the runtime build a template may
    // run; an instance row records one runtime process the CP started for an org (never its token or env).
    id: '202611260103_workspace_provisioning',
    statements: [
      `create table if not exists runtime_image_pins (
        template text primary key,
        digest text not null,
        promoted_by text not null,
        promoted_at timestamptz not null default now()
      )`,
      `create table if not exists cp_workspace_instances (
        instance_id text primary key,
        workspace_id uuid not null,
        org_id uuid not null references organizations(id) on delete cascade,
        runtime text not null,
        digest text not null,
        state text not null check (state in ('running', 'stopped', 'terminated', 'failed')),
        created_at timestamptz not null default now(),
        terminated_at timestamptz
      )`,
      `create index if not exists cp_workspace_instances_workspace on cp_workspace_instances (workspace_id, created_at desc)`,
      `create index if not exists cp_workspace_instances_org on cp_workspace_instances (org_id) where state = 'running'`,
    ],
  },
  {
    // Issue 9: the delete cascade is a step journal (reference §4.6, "resumable via org_purges.last_step"). One row per
    // org being deleted: the last step done, and a lease so two deletes of one org never run at once (any replica).
    // No foreign key: the row outlives the org it journals.
    id: '202611260104_purge_steps',
    statements: [
      `create table if not exists org_purge_jobs (
        org_id uuid primary key,
        slug text not null,
        requested_by text not null,
        last_step text,
        last_error text,
        lease_until timestamptz,
        started_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        finished_at timestamptz
      )`,
      `alter table org_purges add column if not exists last_step text`,
    ],
  },
  {
    // Issue 12: partner API keys (reference §3.6). Lookup is one equality on the hash over live rows (the partial
    // index); the partner's list is by partner_id. Orgs a key creates carry its partner; the CP audit chain names the
    // partner of every partner-key call (a column only partner-key rows fill: the canonical row of any other event is
    // unchanged, so existing chains still verify).
    id: '202611270101_partner_keys',
    statements: [
      `create table if not exists partner_api_keys (
        id text primary key,
        name text not null,
        key_hash text not null unique,
        key_prefix text not null,
        partner_id text not null,
        org_id uuid,
        scopes text[] not null,
        rate_limit integer not null default 60 check (rate_limit between 1 and 100000),
        created_by text not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz,
        revoked_at timestamptz,
        last_used_at timestamptz
      )`,
      `create index if not exists partner_api_keys_live_hash on partner_api_keys (key_hash) where revoked_at is null`,
      `create index if not exists partner_api_keys_partner on partner_api_keys (partner_id, created_at desc)`,
      `alter table organizations add column if not exists partner_id text`,
      `create index if not exists organizations_partner on organizations (partner_id, created_at) where partner_id is not null`,
      `alter table audit_events add column if not exists partner_id text`,
    ],
  },
  {
    // Issue 13: Idempotency-Key on every POST (src/core/http/idempotency.ts), the same table as every tenant's.
    id: '202611290102_idempotency',
    statements: [...IDEMPOTENCY_MIGRATION_STATEMENTS],
  },
  {
    // Issue 13: device authorization for the CLI (RFC 8628). Only hashes of the device code (the row's key) and of the
    // user code are stored; a row lives 15 minutes and is deleted when its code is exchanged (single use) or purged.
    id: '202611290201_device_codes',
    statements: [
      `create table if not exists device_authorizations (
        device_code_hash text primary key,
        user_code_hash text not null unique,
        client_name text not null,
        client_ip text,
        status text not null default 'pending' check (status in ('pending', 'approved', 'denied')),
        user_id text references users(id) on delete cascade,
        org_slug text,
        interval_seconds integer not null default 5,
        last_polled_at timestamptz,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null,
        decided_at timestamptz
      )`,
      `create index if not exists device_authorizations_expires on device_authorizations (expires_at)`,
    ],
  },
];
