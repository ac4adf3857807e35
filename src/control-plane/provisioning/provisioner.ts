import { DomainError } from '../../core/errors.js';

/**
 * How the control plane gets a tenant server running for an org (DESIGN.md §2, §9). Backends: `none` (records the
 * request; the org waits in `provisioning`) and `local-process` (one tenant process per org on this machine, one
 * database per tenant). A Kubernetes backend would implement the same interface.
 *
 * The provisioner owns the org's `org_instances` row while it works: status, stage, progress, url, pid, last_error.
 */
export interface TenantProvisionRequest {
  orgId: string;
  slug: string;
  provider: string;
}

/** What a tenant reported about itself (POST /cp/tenants/boot-event), already authenticated to `orgId`. */
export interface TenantBootEvent {
  stage: string;
  detail?: string | undefined;
  /** The URL the tenant listens on (stage `listening`); loopback for the local-process backend. */
  url?: string | undefined;
}

/** GET /api/v1/admin/tenants/:slug/diagnostics: what an operator needs to know about one tenant process. */
export interface TenantDiagnostics {
  backend: string;
  running: boolean;
  pid: number | null;
  url: string | null;
  uptime_seconds: number;
  rss_bytes: number | null;
  restarts: number;
  last_exit: { code: number | null; signal: string | null; at: string } | null;
  database: string | null;
  migration_version: string | null;
  recent_log_lines: string[];
}

/** One tenant's outcome in a redeploy (also one row of a fleet redeploy's `results`). */
export interface TenantRedeployResult {
  ok: boolean;
  /** The tenant answered /health after the restart. */
  healthz_ok: boolean;
  pid: number | null;
  error?: string;
}

export interface TenantProvisioner {
  /** A short name for logs and the instance message. */
  readonly name: string;
  /**
   * Called once when the CP boots: adopt tenants a previous CP process left running (alive and answering), restart
   * the ones that should be running but are not, and resume provisioning that was interrupted.
   */
  start(): Promise<void>;
  /** Starts provisioning in the background; resolves once the request is recorded, not when the tenant is up. */
  provision(request: TenantProvisionRequest): Promise<void>;
  /**
   * Stops and removes the org's tenant and its data (process, database, files); idempotent. Resolves only once the
   * tenant can no longer serve a request; rejects when it cannot be stopped — the org is then kept, and its slug is
   * not released.
   */
  deprovision(request: TenantProvisionRequest): Promise<void>;
  /** A tenant's boot event (authenticated by its admin token): advances provisioning (e.g. `listening` → health check). */
  onBootEvent(orgId: string, event: TenantBootEvent): Promise<void>;
  /** Null when this backend runs nothing for the org. */
  diagnostics(request: TenantProvisionRequest): Promise<TenantDiagnostics | null>;
  /**
   * Replaces the tenant's process with a fresh one (current binary, current admin token and config) and waits until
   * it answers /health. Used by redeploy, fleet redeploy and admin-token rotation.
   */
  redeploy(request: TenantProvisionRequest): Promise<TenantRedeployResult>;
  /**
   * Removes whatever a deleted org's tenant may have left behind under its slug (a database, a data directory, a
   * stray process) and names what it removed. Only for slugs no live org holds: the caller refuses otherwise.
   */
  scrubArtifacts(slug: string): Promise<{ removed: string[] }>;
  /** Stops supervising. `stopTenants`: also stop every tenant process (npm start's Ctrl-C; TENANT_SHUTDOWN=stop). */
  close(): Promise<void>;
}

/** `TENANT_PROVISIONER=none`: nothing runs tenants; orgs wait in `provisioning` (their instance message says so). */
export class PendingTenantProvisioner implements TenantProvisioner {
  readonly name = 'none';
  async start(): Promise<void> {}
  async provision(): Promise<void> {}
  async deprovision(): Promise<void> {}
  async onBootEvent(): Promise<void> {}
  async diagnostics(): Promise<TenantDiagnostics | null> {
    return null;
  }
  async redeploy(): Promise<TenantRedeployResult> {
    throw new DomainError('PROVISIONER_UNAVAILABLE', 'no tenant provisioner runs tenants on this control plane (TENANT_PROVISIONER=none)');
  }
  /** Nothing ever ran here, so nothing is left behind. */
  async scrubArtifacts(): Promise<{ removed: string[] }> {
    return { removed: [] };
  }
  async close(): Promise<void> {}
}
