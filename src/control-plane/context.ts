import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AuditWriter } from '../core/audit/writer.js';
import type { SecretCipher } from '../core/crypto/cipher.js';
import type { RateLimiter } from '../core/rate-limit.js';
import type { ControlPlaneAuthenticator } from './auth/authenticator.js';
import type { BillingProvider } from './billing/provider.js';
import type { ControlPlaneConfig } from './config.js';
import type { ControlPlaneSchema } from './db/schema.js';
import type { OidcLogin } from './identity/oidc.js';
import type { Mailer } from './mail.js';
import type { PartnerKeyAuthenticator } from './partner-keys/auth.js';
import type { TenantAdminTokens } from './provisioning/admin-tokens.js';
import type { TenantProvisioner } from './provisioning/provisioner.js';
import type { WorkspaceRunner } from './workspaces/runner.js';

/** What a control-plane route may use. Built once in `buildControlPlaneApp`; routes never reach for globals. */
export interface ControlPlaneContext {
  config: ControlPlaneConfig;
  db: Kysely<ControlPlaneSchema>;
  log: Logger;
  auth: ControlPlaneAuthenticator;
  /** Partner API keys (`mol_pk_live_…`): verification, per-key rate limits, `last_used_at` written behind. */
  partnerKeys: PartnerKeyAuthenticator;
  rateLimiter: RateLimiter;
  auditWriter: AuditWriter;
  provisioner: TenantProvisioner;
  /** What the CP keeps encrypted at rest (tenant admin tokens, tenant database passwords). */
  cipher: SecretCipher;
  /** Tenant admin tokens: mint, reveal, and which org a presented one belongs to. */
  adminTokens: TenantAdminTokens;
  billing: BillingProvider;
  /** Null when no OpenID Connect provider is configured. */
  oidc: OidcLogin | null;
  /** How mail to users leaves (MAIL_TRANSPORT; `log` when no transport is configured). */
  mailer: Mailer;
  /** Workspace runtimes the CP runs itself (POST /workspaces/provision); stopped when the app closes. */
  workspaces: WorkspaceRunner;
  /** The URL users reach the CP at (PUBLIC_URL or http://localhost:<PORT>). */
  publicUrl: string;
  /**
   * Terminates every workspace runtime the CP runs for the org and answers how many it stopped: the delete cascade's
   * `workspaces` step (reference §4.6 step 3). Absent while the CP runs no workspaces; the step is then skipped.
   */
  terminateOrgWorkspaces?: (orgId: string) => Promise<number>;
  /** Makes the edge forget where an org's tenant was (its remembered ready answer); set by the app. */
  forgetTenantRoute?: (slug: string) => void;
}
