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
  /** Stops and removes the org's tenant and its data; idempotent. */
  deprovision(request: TenantProvisionRequest): Promise<void>;
  close(): Promise<void>;
}

/** `TENANT_PROVISIONER=none`: nothing runs tenants; orgs wait in `provisioning`. */
export class PendingTenantProvisioner implements TenantProvisioner {
  readonly name = 'none';
  readonly requests: TenantProvisionRequest[] = [];
  async provision(request: TenantProvisionRequest): Promise<void> {
    this.requests.push(request);
  }
  async deprovision(request: TenantProvisionRequest): Promise<void> {
    const i = this.requests.findIndex((r) => r.orgId === request.orgId);
    if (i >= 0) this.requests.splice(i, 1);
  }
  async close(): Promise<void> {}
}
