import type { ColumnType } from 'kysely';
import type { AuditSchema } from '../../core/audit/schema.js';
import type { IdempotencySchema } from '../../core/http/idempotency-store.js';

/** Kysely table types for the control plane's own database: the one place its shape is written in TypeScript. */

type WithDefault<T> = ColumnType<T, T | undefined, T>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/** bigint columns arrive as strings from node-postgres; the stores convert with Number(). */
type Int8 = ColumnType<string | number, number | undefined, number>;

export const ORG_STATUSES = ['awaiting_payment', 'provisioning', 'running', 'failed', 'suspended'] as const;
export type OrgStatus = (typeof ORG_STATUSES)[number];

export const MEMBER_ROLES = ['owner', 'admin', 'member'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

export const PLAN_IDS = ['free', 'starter', 'pro'] as const;
export type PlanId = (typeof PLAN_IDS)[number];

export const INSTANCE_STATUSES = ['provisioning', 'running', 'failed', 'deprovisioning', 'deprovisioned'] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export interface UsersTable {
  id: string;
  /** Lower-cased; unique. */
  email: string;
  name: string | null;
  /** `scrypt$<logN>$<r>$<p>$<salt>$<hash>`; null for accounts that only sign in through OpenID Connect. */
  password_hash: string | null;
  terms_version: string | null;
  terms_accepted_at: NullableTimestamp;
  /**
   * When `email` was proven to belong to this user (a verification link, or an OpenID provider's
   * `email_verified: true`); null while it is only claimed. Only a verified address satisfies an email-bound invitation.
   */
  email_verified_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface EmailVerificationsTable {
  /** sha256 of the `molv_…` token; the token itself is never stored. */
  token_hash: string;
  user_id: string;
  /** The (lower-cased) address the link was issued for: a link proves only that address. */
  email: string;
  created_at: Timestamp;
  expires_at: Date | string;
}

export interface UserIdentitiesTable {
  provider: string;
  subject: string;
  user_id: string;
  email: string | null;
  created_at: Timestamp;
}

export interface SessionsTable {
  id: string;
  /** sha256 of the cookie value; the value itself is never stored. */
  token_hash: string;
  user_id: string;
  created_at: Timestamp;
  expires_at: Date | string;
  revoked_at: NullableTimestamp;
  client_ip: string | null;
}

export type DeviceAuthorizationStatus = 'pending' | 'approved' | 'denied';

/** A device authorization request (RFC 8628): the CLI polls with the device code, a signed-in user enters the user code. */
export interface DeviceAuthorizationsTable {
  /** sha256 of the device code; the code itself is never stored. */
  device_code_hash: string;
  /** sha256 of the normalized user code (`ABCDEFGH`, no dash). */
  user_code_hash: string;
  /** What the client called itself (`cli:<host>`), shown on the approval page. */
  client_name: string;
  client_ip: string | null;
  status: WithDefault<DeviceAuthorizationStatus>;
  /** The approving (or denying) user. */
  user_id: string | null;
  /** The org chosen on the approval page, if any. */
  org_slug: string | null;
  /** The current polling interval: RFC 8628 §3.5 adds 5 s on every slow_down. */
  interval_seconds: WithDefault<number>;
  last_polled_at: NullableTimestamp;
  created_at: Timestamp;
  expires_at: Date | string;
  decided_at: NullableTimestamp;
}

export interface OidcStatesTable {
  /** sha256 of the `state` parameter. */
  state_hash: string;
  provider: string;
  code_verifier: string;
  nonce: string;
  return_to: string | null;
  created_at: Timestamp;
  expires_at: Date | string;
}

export interface OrganizationsTable {
  id: string;
  slug: string;
  name: string;
  plan: WithDefault<PlanId>;
  status: WithDefault<OrgStatus>;
  provider: WithDefault<string>;
  is_canary: WithDefault<boolean>;
  credits_balance: Int8;
  plan_monthly_credits: Int8;
  overage_used_credits: Int8;
  overage_cap_credits: Int8;
  last_error: string | null;
  created_by: string;
  /** The partner whose key created the org (partner keys, issue 12): only that partner's keys see it. Null otherwise. */
  partner_id: WithDefault<string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/**
 * Partner API keys (DESIGN.md §4, reference §3.6): `mol_pk_live_…`, stored as sha256 with a 16-character display
 * prefix. `org_id` null = every org of the partner; set = that org only (no foreign key: a bound key outlives its org
 * and then reaches nothing — it must never widen to "any org").
 */
export interface PartnerApiKeysTable {
  id: string;
  name: string;
  key_hash: string;
  key_prefix: string;
  partner_id: string;
  org_id: string | null;
  scopes: string[];
  rate_limit: number;
  created_by: string;
  created_at: Timestamp;
  expires_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
}

export interface OrgMembersTable {
  org_id: string;
  /** A user id (`usr_…`), or the opaque owner id an admin-created org was given (`e2e-runner:<slug>`). */
  user_id: string;
  role: MemberRole;
  invited_by: string | null;
  created_at: Timestamp;
}

export interface OrgInvitationsTable {
  id: string;
  org_id: string;
  token_hash: string;
  prefix: string;
  /** When set, only a user with this (lower-cased) email can accept. */
  email: string | null;
  role: MemberRole;
  invited_by: string;
  created_at: Timestamp;
  expires_at: Date | string;
  accepted_at: NullableTimestamp;
  accepted_by: string | null;
  revoked_at: NullableTimestamp;
}

export interface OrgInstancesTable {
  org_id: string;
  status: InstanceStatus;
  stage: string;
  progress: number;
  message: string;
  eta_seconds: number;
  url: string | null;
  region: string | null;
  ip: string | null;
  last_error: string | null;
  /**
   * The tenant admin token (`molt_…`, DESIGN.md §4): AES-256-GCM under the CP's SECRETS_ENCRYPTION_KEY (aad
   * `org-instance:<org_id>:admin-token`), written before the tenant starts; its sha256 finds the org a presented
   * token belongs to. Null until provisioning has minted one.
   */
  admin_token_ciphertext: string | null;
  admin_token_key_id: string | null;
  admin_token_hash: string | null;
  /** Where the tenant runs (local-process backend): its database, its process and how often it was restarted. */
  database_name: string | null;
  pid: number | null;
  restarts: WithDefault<number>;
  started_at: NullableTimestamp;
  /** Sealed `<key id>:<ciphertext>` under the CP key (aad names the row and the field). */
  database_password_sealed: string | null;
  secrets_key_sealed: string | null;
  /** The loopback port the tenant listens on; kept across restarts, so its URL does not move. */
  port: number | null;
  agent_uid_base: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** The runtime build a template (a workspace `runtime`) may run (reference §2.4 "Image pins"). */
export interface RuntimeImagePinsTable {
  template: string;
  /** `sha256:<hex>`: for local processes, the digest of the runtime's built entry files (runtimeDigest). */
  digest: string;
  promoted_by: string;
  promoted_at: Timestamp;
}

export type CpWorkspaceInstanceState = 'running' | 'stopped' | 'terminated' | 'failed';

/** One workspace runtime process the control plane started for an org (reference §2.5). */
export interface CpWorkspaceInstancesTable {
  instance_id: string;
  workspace_id: string;
  org_id: string;
  runtime: string;
  digest: string;
  state: CpWorkspaceInstanceState;
  created_at: Timestamp;
  terminated_at: NullableTimestamp;
}

/** What a tenant said while booting (reference §2.6, `org_instance_boot_events`): the readiness signal and its history. */
export interface OrgInstanceBootEventsTable {
  id: ColumnType<number, never, never>;
  org_id: string;
  stage: string;
  detail: string | null;
  at: Timestamp;
}

/**
 * A tenant's audit chain head as it reported it (count + head hash): the anchor outside the tenant's own database
 * that a rewound or rewritten chain cannot match (src/control-plane/tenants, SECURITY.md).
 */
export interface TenantAuditAnchorsTable {
  id: ColumnType<number, never, never>;
  org_id: string;
  event_count: Int8;
  head_hash: string;
  reason: string;
  reported_at: Timestamp;
}

export interface OrgPurgesTable {
  id: string;
  org_id: string;
  slug: string;
  purged_by: string;
  purged_at: Timestamp;
  /** The cascade's last step when the purge was recorded (`rows`: complete). Null for purges before the journal. */
  last_step: ColumnType<string | null, string | null | undefined, string | null>;
}

/**
 * The delete cascade's step journal (src/control-plane/orgs/purge.ts): which step of an org's delete is done, and
 * who holds it now (`lease_until`: a delete running on some replica; past, it crashed and may be resumed).
 */
export interface OrgPurgeJobsTable {
  org_id: string;
  slug: string;
  requested_by: string;
  last_step: ColumnType<string | null, string | null | undefined, string | null>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  lease_until: NullableTimestamp;
  started_at: Timestamp;
  updated_at: Timestamp;
  finished_at: NullableTimestamp;
}

export interface CreditLedgerTable {
  id: string;
  org_id: string;
  delta: Int8;
  balance_after: Int8;
  reason: string;
  reference: string | null;
  created_by: string;
  created_at: Timestamp;
}

export interface InvoicesTable {
  id: string;
  org_id: string;
  number: string;
  description: string;
  amount_cents: Int8;
  currency: WithDefault<string>;
  status: 'paid' | 'open' | 'void';
  lines: ColumnType<InvoiceLine[], string, string>;
  created_at: Timestamp;
  paid_at: NullableTimestamp;
}

export interface InvoiceLine {
  description: string;
  amount_cents: number;
  quantity: number;
}

export const BILLING_SESSION_KINDS = ['checkout', 'portal', 'topup'] as const;
export type BillingSessionKind = (typeof BILLING_SESSION_KINDS)[number];

export interface BillingSessionsTable {
  id: string;
  org_id: string;
  kind: BillingSessionKind;
  plan: PlanId | null;
  credits: number | null;
  amount_cents: number | null;
  success_url: string | null;
  cancel_url: string | null;
  return_url: string | null;
  status: 'pending' | 'completed' | 'cancelled' | 'expired';
  created_by: string;
  created_at: Timestamp;
  expires_at: Date | string;
  completed_at: NullableTimestamp;
  completed_by: string | null;
}

export interface ControlPlaneSchema extends AuditSchema, IdempotencySchema {
  users: UsersTable;
  user_identities: UserIdentitiesTable;
  sessions: SessionsTable;
  oidc_states: OidcStatesTable;
  email_verifications: EmailVerificationsTable;
  device_authorizations: DeviceAuthorizationsTable;
  organizations: OrganizationsTable;
  org_members: OrgMembersTable;
  org_invitations: OrgInvitationsTable;
  org_instances: OrgInstancesTable;
  org_instance_boot_events: OrgInstanceBootEventsTable;
  tenant_audit_anchors: TenantAuditAnchorsTable;
  org_purges: OrgPurgesTable;
  org_purge_jobs: OrgPurgeJobsTable;
  credit_ledger: CreditLedgerTable;
  invoices: InvoicesTable;
  billing_sessions: BillingSessionsTable;
  runtime_image_pins: RuntimeImagePinsTable;
  cp_workspace_instances: CpWorkspaceInstancesTable;
  partner_api_keys: PartnerApiKeysTable;
}
