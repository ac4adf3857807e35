import type { TenantBootEvent, TenantDiagnostics, TenantProvisioner, TenantProvisionRequest, TenantRedeployResult } from '../../src/control-plane/provisioning/provisioner.js';

/** A TenantProvisioner that records what it was asked, and can be told to refuse: tests observe hand-offs with it. */
export class RecordingProvisioner implements TenantProvisioner {
  readonly name = 'recording';
  provisioned: TenantProvisionRequest[] = [];
  deprovisioned: TenantProvisionRequest[] = [];
  refuse: string | null = null;
  /** When set, deprovision fails with this message (the tenant could not be stopped). */
  refuseDeprovision: string | null = null;
  /** Runs inside deprovision, before it returns: lets a test look at the world while the tenant is being stopped. */
  whileDeprovisioning: ((r: TenantProvisionRequest) => Promise<void>) | null = null;
  async provision(r: TenantProvisionRequest) {
    if (this.refuse) throw new Error(this.refuse);
    this.provisioned.push(r);
  }
  async deprovision(r: TenantProvisionRequest) {
    if (this.whileDeprovisioning) await this.whileDeprovisioning(r);
    if (this.refuseDeprovision) throw new Error(this.refuseDeprovision);
    this.deprovisioned.push(r);
  }
  bootEvents: Array<{ orgId: string; event: TenantBootEvent }> = [];
  redeployed: TenantProvisionRequest[] = [];
  async start() {}
  async onBootEvent(orgId: string, event: TenantBootEvent) {
    this.bootEvents.push({ orgId, event });
  }
  async diagnostics(): Promise<TenantDiagnostics | null> {
    return null;
  }
  async redeploy(r: TenantProvisionRequest): Promise<TenantRedeployResult> {
    this.redeployed.push(r);
    return { ok: true, healthz_ok: true, pid: null };
  }
  async close() {}
}
