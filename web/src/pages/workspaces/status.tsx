import type { paths } from '../../../../src/sdk/generated/tenant';
import { ApiError } from '../../api';

/** One workspace as GET /workspaces/{id} answers it (the list's items have the same shape). */
export type Workspace = paths['/workspaces/{id}']['get']['responses'][200]['content']['application/json'];
export type WorkspaceStatus = Workspace['status'];
export type StoredEvent = paths['/events/{id}']['get']['responses'][200]['content']['application/json'][number];

/** What each status means, for the badge's tooltip-free text alternative (screen readers read the word itself). */
const STATUS_HINT: Record<WorkspaceStatus, string> = {
  provisioning: 'starting',
  online: 'running',
  offline: 'process down',
  degraded: 'high error rate',
  failed: 'gave up; restart to try again',
  removed: 'deleted',
  paused: 'stopped until resumed',
  hibernated: 'asleep until restarted or resumed',
  hibernating: 'going to sleep',
  awaiting_agent: 'waiting for its external agent',
};

export function StatusBadge({ status }: { status: WorkspaceStatus }) {
  return (
    <span className={`badge ws-status status-${status}`} data-status={status} title={STATUS_HINT[status]}>
      {status.replace('_', ' ')}
    </span>
  );
}

/** The status an event moves its workspace to, for the events that say (the others only invalidate). */
export const STATUS_OF_EVENT: Partial<Record<string, WorkspaceStatus>> = {
  WORKSPACE_PROVISIONING: 'provisioning',
  WORKSPACE_PROVISION_FAILED: 'failed',
  WORKSPACE_ONLINE: 'online',
  WORKSPACE_OFFLINE: 'offline',
  WORKSPACE_AWAITING_AGENT: 'awaiting_agent',
  WORKSPACE_DEGRADED: 'degraded',
  WORKSPACE_PAUSED: 'paused',
  WORKSPACE_HIBERNATED: 'hibernated',
  WORKSPACE_REMOVED: 'removed',
};

export function fmt(at: string | null | undefined): string {
  return at ? new Date(at).toLocaleString() : '—';
}

/** 3725 → "1 h 2 min 5 s". */
export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [h ? `${h} h` : '', m ? `${m} min` : '', !h && s ? `${s} s` : ''].filter(Boolean).join(' ');
}

export function bytes(n: number): string {
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * The server's error with its `detail` (validation answers put the reason there: "name must not contain …"), so the
 * shared ErrorView shows both next to the request id.
 */
export function withDetail(err: unknown): unknown {
  if (!(err instanceof ApiError) || !err.body || typeof err.body !== 'object') return err;
  const detail = (err.body as { detail?: unknown }).detail;
  if (typeof detail !== 'string' || detail === '' || err.message.includes(detail)) return err;
  return new ApiError(err.status, err.code, `${err.message}: ${detail}`, err.requestId, err.body, err.method, err.url);
}

/** A gated request's 202 answer (the approval gate): held until a human approves it under Approvals. */
export interface PendingApproval {
  status: 'pending_approval';
  approval_id: string;
  action: string;
  reason: string;
}

export function pendingApproval(data: unknown): PendingApproval | null {
  return data && typeof data === 'object' && (data as { status?: unknown }).status === 'pending_approval' ? (data as PendingApproval) : null;
}
