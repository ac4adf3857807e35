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
  /**
   * What redeploy answers, per slug: a result, or an Error to throw. Unlisted slugs get `defaultRedeploy`.
   * A function is called with the request (e.g. to restart a real in-process tenant with its new admin token).
   */
  redeployResults = new Map<string, TenantRedeployResult | Error | ((r: TenantProvisionRequest) => Promise<TenantRedeployResult>)>();
  defaultRedeploy: TenantRedeployResult = { ok: true, healthz_ok: true, pid: 4242 };
  /** Runs inside redeploy before it answers: lets a test hold a redeploy open or look at the world meanwhile. */
  whileRedeploying: ((r: TenantProvisionRequest) => Promise<void>) | null = null;
  /** What diagnostics answers, per org id (null when unlisted). */
  diagnosticsOf = new Map<string, TenantDiagnostics>();
  /** What scrubArtifacts removes, per slug, and every slug it was asked about. */
  artifacts = new Map<string, string[]>();
  scrubbed: string[] = [];
  async start() {}
  async onBootEvent(orgId: string, event: TenantBootEvent) {
    this.bootEvents.push({ orgId, event });
  }
  async diagnostics(r: TenantProvisionRequest): Promise<TenantDiagnostics | null> {
    return this.diagnosticsOf.get(r.orgId) ?? null;
  }
  async redeploy(r: TenantProvisionRequest): Promise<TenantRedeployResult> {
    this.redeployed.push(r);
    if (this.whileRedeploying) await this.whileRedeploying(r);
    const planned = this.redeployResults.get(r.slug);
    if (planned instanceof Error) throw planned;
    if (typeof planned === 'function') return planned(r);
    return planned ?? this.defaultRedeploy;
  }
  async scrubArtifacts(slug: string): Promise<{ removed: string[] }> {
    this.scrubbed.push(slug);
    const removed = this.artifacts.get(slug) ?? [];
    this.artifacts.delete(slug);
    return { removed };
  }
  async close() {}
}
