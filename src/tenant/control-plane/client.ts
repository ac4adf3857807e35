import type { Logger } from 'pino';
import type { TenantConfig } from '../config.js';

/** Why a call to the control plane did not give an answer (transport error, timeout, or a status we cannot use). */
export class ControlPlaneCallError extends Error {
  constructor(
    message: string,
    /** The HTTP status, when the CP answered at all. */
    readonly status: number | null,
    /** The error code from the CP's body, when it sent one. */
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'ControlPlaneCallError';
  }
  /** Worth trying again: no answer, or the CP (or a proxy before it) is overloaded or restarting. */
  get retryable(): boolean {
    return this.status === null || this.status === 429 || this.status >= 500;
  }
}

export interface ControlPlaneClientOptions {
  /** CP_UPSTREAM_URL. */
  baseUrl: string;
  /** MOLECULE_ORG_ID: sent as X-Molecule-Org-Id; the CP refuses a token of another org. */
  orgId: string;
  /** ADMIN_TOKEN: the tenant admin token the CP minted for this org. */
  adminToken: string;
  log: Logger;
}

/**
 * The tenant's calls to its control plane's tenant callbacks (`/cp/tenants/*`, reference §2.6), authenticated by
 * its admin token. Every call has a timeout; none retries on its own (callers say how hard to try).
 */
export class ControlPlaneClient {
  private readonly base: string;
  constructor(readonly opts: ControlPlaneClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
  }

  /** A client when this tenant was provisioned by a control plane (CP_UPSTREAM_URL, MOLECULE_ORG_ID and ADMIN_TOKEN all set). */
  static fromConfig(config: Pick<TenantConfig, 'CP_UPSTREAM_URL' | 'MOLECULE_ORG_ID' | 'ADMIN_TOKEN'>, log: Logger): ControlPlaneClient | null {
    if (!config.CP_UPSTREAM_URL || !config.MOLECULE_ORG_ID || !config.ADMIN_TOKEN) return null;
    return new ControlPlaneClient({ baseUrl: config.CP_UPSTREAM_URL, orgId: config.MOLECULE_ORG_ID, adminToken: config.ADMIN_TOKEN, log });
  }

  async call<T>(method: 'GET' | 'POST', path: string, body: unknown, timeoutMs: number, stop?: AbortSignal): Promise<{ status: number; body: T }> {
    let res: Response;
    try {
      res = await fetch(`${this.base}/cp${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.opts.adminToken}`,
          'x-molecule-org-id': this.opts.orgId,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: stop ? AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]) : AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      throw new ControlPlaneCallError(`control plane unreachable: ${err instanceof Error ? err.message : String(err)}`, null);
    }
    const text = await res.text().catch(() => '');
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (res.status >= 400) {
      const code = parsed && typeof parsed === 'object' && typeof (parsed as Record<string, unknown>)['code'] === 'string' ? String((parsed as Record<string, unknown>)['code']) : null;
      throw new ControlPlaneCallError(`control plane answered ${res.status}${code ? ` ${code}` : ''}`, res.status, code);
    }
    return { status: res.status, body: parsed as T };
  }
}

/**
 * Calls `attempt` until it succeeds, it fails with an error not worth retrying, or `budgetMs` is spent; waits
 * 250 ms doubling to 5 s between tries. `signal` stops it early (shutdown).
 */
export async function withRetries<T>(attempt: () => Promise<T>, budgetMs: number, signal?: AbortSignal): Promise<T> {
  const deadline = Date.now() + budgetMs;
  let delay = 250;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      const retryable = !(err instanceof ControlPlaneCallError) || err.retryable;
      if (!retryable || signal?.aborted || Date.now() + delay > deadline) throw err;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      timer.unref();
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
    if (signal?.aborted) throw new ControlPlaneCallError('stopped', null);
    delay = Math.min(delay * 2, 5000);
  }
}
