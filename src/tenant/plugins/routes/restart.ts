import type { TenantContext } from '../../context.js';
import { getWorkspace } from '../../workspaces/store.js';

/** Statuses in which a workspace has (or is getting) a running process (as a template switch, templates/routes). */
const RUNNING = ['provisioning', 'online', 'offline', 'degraded'];

/**
 * Restarts the workspace's runtime so its files (plugins included) are materialised again; a paused, failed or
 * external workspace is left alone (it gets them at its next start). True when a restart was started.
 */
export async function restartIfRunning(ctx: TenantContext, id: string, reason: string): Promise<boolean> {
  const ws = await getWorkspace(ctx.db, id);
  if (!ws || ws.external || !RUNNING.includes(ws.status) || !ctx.lifecycle.hasProvisioner) return false;
  ctx.lifecycle.provisionInBackground(id, reason);
  return true;
}
