import type { ProcessInfo } from '../../core/compute/managed-process.js';
import type { Workspace } from './schemas.js';
import type { WorkspaceRow } from './store.js';

const iso = (d: Date | string) => new Date(d).toISOString();

export function presentWorkspace(row: WorkspaceRow, proc: ProcessInfo | null): Workspace {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    tier: row.tier,
    status: row.status,
    runtime: row.runtime,
    template: row.template,
    model: row.model,
    parent_id: row.parent_id,
    url: row.url,
    last_error: row.last_error,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    removed_at: row.removed_at ? iso(row.removed_at) : null,
    external: row.external,
    delivery_mode: row.delivery_mode,
    workspace_dir: row.workspace_dir,
    workspace_access: row.workspace_access,
    budget_limit: row.budget_limit === null ? null : Number(row.budget_limit),
    monthly_spend: Number(row.monthly_spend),
    max_concurrent_tasks: row.max_concurrent_tasks,
    active_tasks: row.active_tasks,
    uptime_seconds: row.uptime_seconds,
    current_task: row.current_task,
    last_error_rate: Number(row.last_error_rate),
    last_heartbeat_at: row.last_heartbeat_at ? iso(row.last_heartbeat_at) : null,
    restart_count: row.restart_count,
    process: proc
      ? {
          pid: proc.pid,
          running: proc.running,
          uptime_seconds: proc.uptimeSeconds,
          rss_bytes: proc.rssBytes,
          restarts: proc.restarts,
          last_exit: proc.lastExit ? { code: proc.lastExit.code, signal: proc.lastExit.signal, at: proc.lastExit.at.toISOString() } : null,
        }
      : null,
  };
}
