import type { Logger } from 'pino';
import { ControlPlaneClient, withRetries } from './client.js';

/**
 * The keys a tenant takes from GET /cp/tenants/config (reference §2.6). Nothing else the CP sends is applied: a CP
 * (or anyone who can impersonate it) must not be able to set DATABASE_URL, ADMIN_TOKEN or AGENT_ISOLATION here.
 */
export const TENANT_CONFIG_ALLOWLIST: readonly string[] = ['MOLECULE_CP_URL', 'MOLECULE_CP_SHARED_SECRET'];

/** Values longer than this are ignored, as the reference tenant does. */
const VALUE_MAX_BYTES = 4096;
const FETCH_TIMEOUT_MS = 3_000;
const FETCH_BUDGET_MS = 8_000;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The CP client, from the raw environment (before it is parsed): null unless this tenant was provisioned by a CP. */
export function controlPlaneClientFromEnv(source: Record<string, string | undefined>, log: Logger): ControlPlaneClient | null {
  const baseUrl = source['CP_UPSTREAM_URL'];
  const orgId = source['MOLECULE_ORG_ID'];
  const adminToken = source['ADMIN_TOKEN'];
  if (!baseUrl || !orgId || !adminToken || !UUID_RE.test(orgId)) return null;
  try {
    if (!/^https?:$/.test(new URL(baseUrl).protocol)) return null;
  } catch {
    return null; // config parsing reports it, with every other bad key
  }
  return new ControlPlaneClient({ baseUrl, orgId: orgId.toLowerCase(), adminToken, log });
}

/**
 * At boot, before the environment is parsed: asks the CP for this tenant's config (a short timeout, a couple of
 * retries) and returns the environment with the allowlisted keys added. A value set explicitly is never overridden.
 * Failure is logged and boot goes on with the environment as it was.
 */
export async function withControlPlaneConfig(
  source: Record<string, string | undefined>,
  client: ControlPlaneClient | null,
  log: Logger,
): Promise<Record<string, string | undefined>> {
  if (!client) return source;
  let remote: unknown;
  try {
    remote = (await withRetries(() => client.call<unknown>('GET', '/tenants/config', undefined, FETCH_TIMEOUT_MS), FETCH_BUDGET_MS)).body;
  } catch (err) {
    log.warn({ err }, 'could not fetch this tenant’s config from the control plane; booting with the environment as it is');
    return source;
  }
  if (!remote || typeof remote !== 'object' || Array.isArray(remote)) {
    log.warn('the control plane’s tenant config is not a JSON object; ignored');
    return source;
  }
  const merged = { ...source };
  const applied: string[] = [];
  for (const key of TENANT_CONFIG_ALLOWLIST) {
    const value = (remote as Record<string, unknown>)[key];
    if (typeof value !== 'string' || Buffer.byteLength(value) > VALUE_MAX_BYTES) continue;
    if (merged[key] !== undefined && merged[key] !== '') continue; // set explicitly: the operator wins
    merged[key] = value;
    applied.push(key);
  }
  log.info({ applied }, 'applied the control plane’s tenant config');
  return merged;
}
