/**
 * How the control plane gets a tenant server running for an org (DESIGN.md §2). The real backend — one tenant
 * process per org on this machine — comes with provisioning; until then `none` records the request, and the org
 * stays `provisioning` with an instance row that says why.
 */
export interface TenantProvisionRequest {
  orgId: string;
  slug: string;
  provider: string;
}

export interface TenantProvisioner {
  /** A short name for logs and the instance message. */
  readonly name: string;
  /** Starts provisioning in the background; resolves once the request is recorded, not when the tenant is up. */
  provision(request: TenantProvisionRequest): Promise<void>;
  /**
   * Stops and removes the org's tenant and its data; idempotent. Resolves only once the tenant can no longer serve
   * a request; rejects when it cannot be stopped — the org is then kept, and its slug is not released.
   */
  deprovision(request: TenantProvisionRequest): Promise<void>;
  close(): Promise<void>;
}

/** `TENANT_PROVISIONER=none`: nothing runs tenants; orgs wait in `provisioning` (their instance message says so). */
export class PendingTenantProvisioner implements TenantProvisioner {
  readonly name = 'none';
  async provision(): Promise<void> {}
  async deprovision(): Promise<void> {}
  async close(): Promise<void> {}
}
