import { DomainError } from '../../core/errors.js';
import type { ControlPlaneContext } from '../context.js';
import { findInstance, findOrgBySlug, type OrgRow } from '../orgs/store.js';

/**
 * How the CP calls one org's tenant API as that tenant's admin (reference §2.4: "the CP proxies the tenant's admin
 * API using the tenant token it holds, so ops never hold per-tenant tokens"): its URL from `org_instances.url`, its
 * admin token revealed from the CP's store, `X-Molecule-Org-Id` for the tenant's guard, a deadline on every call.
 *
 * Failures are mapped here, once: an org that is not running is 503 TENANT_NOT_READY (retry later); a tenant that
 * does not answer is 502 TENANT_UNREACHABLE; a tenant error the caller does not handle itself is 502
 * TENANT_REQUEST_FAILED with the tenant's `http_status` (and its code and message, for the operator).
 */

export interface TenantReply {
  status: number;
  /** The parsed JSON body; undefined when empty or not JSON. */
  body: unknown;
}

export class TenantClient {
  constructor(
    readonly org: Pick<OrgRow, 'id' | 'slug'>,
    private readonly baseUrl: string,
    private readonly adminToken: string,
    /** A call that takes longer is abandoned: 502 TENANT_UNREACHABLE (TENANT_CALL_TIMEOUT_MS). */
    private readonly timeoutMs: number,
  ) {}

  /** One call; any HTTP answer is returned (the caller decides what a 404 means), a transport failure is 502. */
  async call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<TenantReply> {
    const headers: Record<string, string> = {
      ...extraHeaders,
      authorization: `Bearer ${this.adminToken}`,
      'x-molecule-org-id': this.org.id,
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new DomainError('TENANT_UNREACHABLE', timedOut ? `org "${this.org.slug}"'s tenant did not answer within ${this.timeoutMs / 1000} s` : `org "${this.org.slug}"'s tenant could not be reached`, {
        http_status: null,
        reason: timedOut ? 'timeout' : 'unreachable',
        retryable: true,
      });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed };
  }

  /** A call that must succeed (2xx): anything else is 502 TENANT_REQUEST_FAILED naming the tenant's answer. */
  async expectOk(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
    const reply = await this.call(method, path, body);
    if (reply.status >= 200 && reply.status < 300) return reply.body;
    throw this.failure(`${method} ${path.split('?')[0]}`, reply);
  }

  failure(what: string, reply: TenantReply): DomainError {
    const b = reply.body && typeof reply.body === 'object' && !Array.isArray(reply.body) ? (reply.body as Record<string, unknown>) : {};
    return new DomainError('TENANT_REQUEST_FAILED', `org "${this.org.slug}"'s tenant answered ${reply.status} to ${what}`, {
      http_status: reply.status,
      ...(typeof b['code'] === 'string' ? { tenant_code: b['code'] } : {}),
      ...(typeof b['error'] === 'string' ? { tenant_error: b['error'] } : {}),
    });
  }
}

/**
 * The org by slug (404 ORG_NOT_FOUND) and a client for its tenant; 503 TENANT_NOT_READY while the org has no running
 * tenant (still provisioning, failed, or no admin token yet), with the instance status so the operator knows which.
 */
export async function tenantClientFor(ctx: ControlPlaneContext, slug: string): Promise<TenantClient> {
  const org = await findOrgBySlug(ctx.db, slug);
  if (!org) throw new DomainError('ORG_NOT_FOUND', `org "${slug}" not found`);
  const instance = await findInstance(ctx.db, org.id);
  const token = instance?.status === 'running' && instance.url ? await ctx.adminTokens.reveal(org.id) : null;
  if (!instance || instance.status !== 'running' || !instance.url || !token) {
    throw new DomainError('TENANT_NOT_READY', `org "${slug}" has no running tenant (instance status: ${instance?.status ?? 'none'})`, {
      instance_status: instance?.status ?? null,
      retryable: true,
    });
  }
  return new TenantClient(org, instance.url, token, ctx.config.TENANT_CALL_TIMEOUT_MS);
}
