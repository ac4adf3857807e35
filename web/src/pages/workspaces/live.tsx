import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { STATUS_OF_EVENT, type StoredEvent, type Workspace } from './status';

/** Every event name the tenant streams (checked against the API's enum at compile time: none missing, none extra). */
const EVENT_NAMES: Record<StoredEvent['event_type'], true> = {
  WORKSPACE_PROVISIONING: true,
  WORKSPACE_PROVISION_FAILED: true,
  WORKSPACE_ONLINE: true,
  WORKSPACE_OFFLINE: true,
  WORKSPACE_AWAITING_AGENT: true,
  WORKSPACE_DEGRADED: true,
  WORKSPACE_PAUSED: true,
  WORKSPACE_HIBERNATED: true,
  WORKSPACE_REMOVED: true,
  WORKSPACE_RESTARTED: true,
  WORKSPACE_UPDATED: true,
  WORKSPACE_PROCESS_EXITED: true,
  SECRET_SET: true,
  SECRET_DELETED: true,
  PLUGIN_INSTALLED: true,
  PLUGIN_UNINSTALLED: true,
  BUDGET_UPDATED: true,
  APPROVAL_REQUESTED: true,
  APPROVAL_ESCALATED: true,
  APPROVAL_APPROVED: true,
  APPROVAL_DENIED: true,
  APPROVAL_WITHDRAWN: true,
  BUDGET_EXCEEDED: true,
  'org.import.started': true,
  'org.import.completed': true,
};

/** The JSON of a frame's `data:` line (EVENT_STREAM_DESCRIPTION in src/tenant/events/routes/schemas.ts). */
interface Frame {
  id: number;
  type: string;
  workspace_id: string | null;
  timestamp: number;
  data: Record<string, unknown>;
}

export type LiveState = 'connecting' | 'live' | 'reconnecting';

/** Applies one event to the cache: the status at once where the event says it, then a refetch of what it touches. */
function apply(qc: QueryClient, frame: Frame): void {
  const id = frame.workspace_id;
  const status = STATUS_OF_EVENT[frame.type];
  if (id && status) {
    qc.setQueryData<Workspace[]>(['workspaces'], (list) =>
      list && (status === 'removed' ? list.filter((w) => w.id !== id) : list.map((w) => (w.id === id ? { ...w, status } : w))),
    );
    qc.setQueryData<Workspace>(['workspace', id], (w) => (w ? { ...w, status } : w));
  }
  void qc.invalidateQueries({ queryKey: ['workspaces'] });
  if (id) {
    void qc.invalidateQueries({ queryKey: ['workspace', id] });
    void qc.invalidateQueries({ queryKey: ['workspace-events', id] });
  }
}

const MAX_DELAY_MS = 30_000;

/**
 * Follows the org's event stream (GET /events/stream, Server-Sent Events, authenticated by the session cookie) and
 * keeps the workspace queries current. The browser's EventSource reconnects by itself with Last-Event-ID after a
 * dropped connection; a refused or server-ended stream (`event: closed`, 429) is reopened here with backoff, and every
 * (re)open refetches the list so nothing missed meanwhile stays stale. The one API call not made through the SDK:
 * the SDK has no SSE.
 */
export function useLiveEvents(): { state: LiveState; last: string | null } {
  const qc = useQueryClient();
  const [state, setState] = useState<LiveState>('connecting');
  const [last, setLast] = useState<string | null>(null);
  useEffect(() => {
    let source: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let delay = 1000;
    let stopped = false;
    const reopen = () => {
      source?.close();
      setState('reconnecting');
      timer = setTimeout(open, delay);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    };
    const onEvent = (e: MessageEvent<string>) => {
      let frame: Frame;
      try {
        frame = JSON.parse(e.data) as Frame;
      } catch {
        return;
      }
      apply(qc, frame);
      const status = STATUS_OF_EVENT[frame.type];
      const name = typeof frame.data['name'] === 'string' ? frame.data['name'] : null;
      if (status) {
        const who = name ?? qc.getQueryData<Workspace[]>(['workspaces'])?.find((w) => w.id === frame.workspace_id)?.name ?? 'A workspace';
        setLast(`${who} is ${status.replace('_', ' ')}.`);
      }
    };
    function open() {
      if (stopped) return;
      const s = new EventSource('/events/stream');
      source = s;
      s.onopen = () => {
        delay = 1000;
        setState('live');
        void qc.invalidateQueries({ queryKey: ['workspaces'] });
      };
      s.onerror = () => {
        if (stopped) return;
        // CONNECTING: the browser is already retrying (with Last-Event-ID); CLOSED: it gave up, so do it here.
        if (s.readyState === EventSource.CLOSED) reopen();
        else setState('reconnecting');
      };
      s.addEventListener('closed', reopen);
      for (const name of Object.keys(EVENT_NAMES)) s.addEventListener(name, onEvent);
    }
    open();
    return () => {
      stopped = true;
      clearTimeout(timer);
      source?.close();
    };
  }, [qc]);
  return { state, last };
}

export function LiveIndicator({ state, last }: { state: LiveState; last: string | null }) {
  const text = state === 'live' ? 'live' : state === 'connecting' ? 'connecting…' : 'reconnecting…';
  return (
    <p className={`live live-${state}`} role="status" aria-live="polite" data-testid="live-state">
      <span className="live-dot" aria-hidden="true" />
      Status updates: <strong>{text}</strong>
      {last ? <span className="live-last"> {last}</span> : null}
    </p>
  );
}
