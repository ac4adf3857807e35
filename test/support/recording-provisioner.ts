import type { TenantProvisioner, TenantProvisionRequest } from '../../src/control-plane/orgs/provisioner.js';

/** A TenantProvisioner that records what it was asked, and can be told to refuse: tests observe hand-offs with it. */
export class RecordingProvisioner implements TenantProvisioner {
  readonly name = 'recording';
  provisioned: TenantProvisionRequest[] = [];
  deprovisioned: TenantProvisionRequest[] = [];
  refuse: string | null = null;
  async provision(r: TenantProvisionRequest) {
    if (this.refuse) throw new Error(this.refuse);
    this.provisioned.push(r);
  }
  async deprovision(r: TenantProvisionRequest) {
    this.deprovisioned.push(r);
  }
  async close() {}
}
