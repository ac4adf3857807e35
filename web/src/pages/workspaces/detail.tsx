import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type ReactNode } from 'react';
import { ApiError, tenant } from '../../api';
import { Link, useRouter } from '../../router';
import { Empty, ErrorView, Loading, Page, TypedConfirm } from '../../ui';
import { LiveIndicator, useLiveEvents } from './live';
import { bytes, duration, fmt, pendingApproval, StatusBadge, withDetail, type PendingApproval, type Workspace } from './status';

type Action = 'restart' | 'pause' | 'resume' | 'hibernate';

const DONE: Record<Action, string> = {
  restart: 'Restart requested: the workspace is starting again.',
  pause: 'Paused: its process is stopped until you resume it.',
  resume: 'Resume requested: the workspace is starting again.',
  hibernate: 'Hibernating: its process stops until it is restarted or resumed.',
};

async function run(action: Action, id: string): Promise<unknown> {
  const params = { path: { id } };
  switch (action) {
    case 'restart':
      return (await tenant.POST('/workspaces/{id}/restart', { params })).data;
    case 'pause':
      return (await tenant.POST('/workspaces/{id}/pause', { params })).data;
    case 'resume':
      return (await tenant.POST('/workspaces/{id}/resume', { params })).data;
    case 'hibernate':
      return (await tenant.POST('/workspaces/{id}/hibernate', { params })).data;
  }
}

/** The approval gate held the request back: nothing changed yet. */
export function HeldForApproval({ held, what }: { held: PendingApproval; what: string }) {
  return (
    <div className="warning" role="status">
      <strong>{what} is waiting for approval.</strong> Nothing has changed yet: another member must approve it under{' '}
      <Link to="/app/approvals">Approvals</Link>, then send the same request again. Approval id <code>{held.approval_id}</code>
      {held.reason ? ` (${held.reason})` : ''}.
    </div>
  );
}

/** Header values must be printable ASCII; a name outside it is still checked by the typed confirmation. */
const HEADER_SAFE = /^[\x20-\x7e]*$/;

function DeleteDialog({ ws, onClose }: { ws: Workspace; onClose: () => void }) {
  const qc = useQueryClient();
  const { navigate } = useRouter();
  const [cascade, setCascade] = useState(false);
  const [held, setHeld] = useState<PendingApproval | null>(null);
  const remove = useMutation({
    mutationFn: async () =>
      (
        await tenant.DELETE('/workspaces/{id}', {
          params: { path: { id: ws.id }, query: cascade ? { confirm: true } : {}, header: HEADER_SAFE.test(ws.name) ? { 'x-confirm-name': ws.name } : {} },
        })
      ).data,
    onSuccess: async (data) => {
      const pending = pendingApproval(data);
      if (pending) {
        setHeld(pending);
        return;
      }
      qc.setQueryData<Workspace[]>(['workspaces'], (list) => list?.filter((w) => w.id !== ws.id));
      qc.removeQueries({ queryKey: ['workspace', ws.id] });
      await qc.invalidateQueries({ queryKey: ['workspaces'] });
      navigate('/app/');
    },
  });
  const hasChildren = remove.error instanceof ApiError && remove.error.code === 'CONFIRMATION_REQUIRED';
  return (
    <TypedConfirm
      label={`Delete ${ws.name}`}
      expected={ws.name}
      inputLabel="Workspace name"
      submitLabel={remove.isPending ? 'Deleting…' : 'Delete workspace'}
      busy={remove.isPending}
      error={remove.isError ? withDetail(remove.error) : null}
      errorTitle="Could not delete the workspace"
      onConfirm={() => remove.mutate()}
      onCancel={onClose}
      extra={
        <>
          {hasChildren || cascade ? (
            <label className="check">
              <input type="checkbox" checked={cascade} onChange={(e) => setCascade(e.target.checked)} />
              Also delete its sub-workspaces
            </label>
          ) : null}
          {held ? <HeldForApproval held={held} what="The deletion" /> : null}
        </>
      }
    >
      Deleting <strong>{ws.name}</strong> stops its process, revokes every token it holds and removes it from the list. Type its name to confirm.
    </TypedConfirm>
  );
}

function Actions({ ws }: { ws: Workspace }) {
  const qc = useQueryClient();
  const [deleting, setDeleting] = useState(false);
  const deleteButton = useRef<HTMLButtonElement>(null);
  const act = useMutation({
    mutationFn: async (action: Action) => ({ action, data: await run(action, ws.id) }),
    onSettled: async () => {
      await Promise.all([qc.invalidateQueries({ queryKey: ['workspace', ws.id] }), qc.invalidateQueries({ queryKey: ['workspaces'] })]);
    },
  });
  const held = act.data ? pendingApproval(act.data.data) : null;
  const asleep = ws.status === 'paused' || ws.status === 'hibernated';
  const button = (action: Action, label: string) => (
    <button key={action} onClick={() => act.mutate(action)} disabled={act.isPending} aria-label={`${label} ${ws.name}`}>
      {act.isPending && act.variables === action ? `${label}…` : label}
    </button>
  );
  return (
    <section aria-label="Actions" className="ws-actions">
      <div className="row start">
        {button('restart', 'Restart')}
        {asleep ? button('resume', 'Resume') : button('pause', 'Pause')}
        {ws.status === 'online' || ws.status === 'degraded' ? button('hibernate', 'Hibernate') : null}
        <button ref={deleteButton} className="danger" onClick={() => setDeleting(true)} aria-label={`Delete ${ws.name}`} aria-expanded={deleting}>
          Delete…
        </button>
      </div>
      <p className="muted" role="status">
        {act.isSuccess && !held ? DONE[act.data.action] : ''}
      </p>
      {held ? <HeldForApproval held={held} what="The request" /> : null}
      {act.isError ? <ErrorView error={withDetail(act.error)} title={`Could not ${act.variables ?? 'do that'}`} /> : null}
      {deleting ? (
        <DeleteDialog
          ws={ws}
          onClose={() => {
            setDeleting(false);
            deleteButton.current?.focus();
          }}
        />
      ) : null}
    </section>
  );
}

function Fact({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div className="fact">
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function Facts({ ws }: { ws: Workspace }) {
  const p = ws.process;
  const none = <span className="muted">—</span>;
  return (
    <section aria-labelledby="facts-title" className="card">
      <h2 id="facts-title">Process facts</h2>
      <dl className="facts">
        <Fact term="Status">
          <StatusBadge status={ws.status} />
        </Fact>
        <Fact term="Template">{ws.template ?? none}</Fact>
        <Fact term="Runtime">{ws.runtime || none}</Fact>
        <Fact term="Model">{ws.model ?? none}</Fact>
        <Fact term="Tier">{ws.tier}</Fact>
        <Fact term="Process id">{p?.pid ?? none}</Fact>
        <Fact term="Process running">{p ? (p.running ? 'yes' : 'no') : none}</Fact>
        <Fact term="Uptime">{p ? duration(p.uptime_seconds) : ws.uptime_seconds ? duration(ws.uptime_seconds) : none}</Fact>
        <Fact term="Memory (RSS)">{p?.rss_bytes != null ? bytes(p.rss_bytes) : none}</Fact>
        <Fact term="Restarts">{p ? p.restarts : ws.restart_count}</Fact>
        <Fact term="Last exit">
          {p?.last_exit ? `${p.last_exit.signal ? `signal ${p.last_exit.signal}` : `code ${p.last_exit.code ?? '?'}`}, ${fmt(p.last_exit.at)}` : none}
        </Fact>
        <Fact term="Last error">{ws.last_error ? <span className="ws-error">{ws.last_error}</span> : none}</Fact>
        <Fact term="URL">{ws.url ? <code>{ws.url}</code> : none}</Fact>
        <Fact term="Tasks">
          {ws.active_tasks} active of {ws.max_concurrent_tasks}
          {ws.current_task ? ` — ${ws.current_task}` : ''}
        </Fact>
        <Fact term="Last heartbeat">{fmt(ws.last_heartbeat_at)}</Fact>
        <Fact term="Spend this month">
          ${(ws.monthly_spend / 100).toFixed(2)}
          {ws.budget_limit !== null ? ` of $${(ws.budget_limit / 100).toFixed(2)}` : ''}
        </Fact>
        <Fact term="Delivery">{ws.delivery_mode}{ws.external ? ', external agent' : ''}</Fact>
        <Fact term="Created">{fmt(ws.created_at)}</Fact>
        <Fact term="Updated">{fmt(ws.updated_at)}</Fact>
        <Fact term="Id">
          <code>{ws.id}</code>
        </Fact>
      </dl>
    </section>
  );
}

function summary(payload: Record<string, unknown>): string {
  const parts = Object.entries(payload)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  const text = parts.join(', ');
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

function RecentEvents({ id }: { id: string }) {
  const events = useQuery({
    queryKey: ['workspace-events', id],
    queryFn: async () => (await tenant.GET('/events/{id}', { params: { path: { id }, query: { limit: 20 } } })).data!,
  });
  return (
    <section aria-labelledby="events-title">
      <h2 id="events-title">Recent events</h2>
      {events.isPending ? <Loading what="events" /> : null}
      {events.isError ? <ErrorView error={events.error} title="Could not list the events" /> : null}
      {events.data && events.data.length === 0 ? <Empty>No events yet.</Empty> : null}
      {events.data && events.data.length > 0 ? (
        <ol className="ws-events">
          {events.data.map((e) => (
            <li key={e.id}>
              <time dateTime={e.created_at}>{fmt(e.created_at)}</time>
              <code className="ws-event-type">{e.event_type}</code>
              {Object.keys(e.payload).length > 0 ? <span className="muted ws-event-details">{summary(e.payload)}</span> : null}
            </li>
          ))}
        </ol>
      ) : null}
    </section>
  );
}

/** The runtime's last output lines (admin only, secrets redacted by the server), fetched when opened. */
function RecentOutput({ id }: { id: string }) {
  const [open, setOpen] = useState(false);
  const logs = useQuery({
    queryKey: ['workspace-logs', id],
    queryFn: async () => (await tenant.GET('/workspaces/{id}/logs', { params: { path: { id }, query: { tail: 50 } } })).data!,
    enabled: open,
  });
  return (
    <details className="card ws-output" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Recent output</summary>
      {logs.isFetching ? <Loading what="the output" /> : null}
      {logs.isError ? <ErrorView error={logs.error} title="Could not read the output" /> : null}
      {logs.data && logs.data.lines.length === 0 ? <Empty>No output yet.</Empty> : null}
      {logs.data && logs.data.lines.length > 0 ? (
        <pre className="ws-logs" tabIndex={0} aria-label="Last output lines, oldest first">
          {logs.data.lines.join('\n')}
        </pre>
      ) : null}
      {logs.data?.last_sample_error ? <p className="ws-error">Last reported error: {logs.data.last_sample_error}</p> : null}
      {logs.data ? (
        <button type="button" onClick={() => void logs.refetch()} disabled={logs.isFetching}>
          Refresh output
        </button>
      ) : null}
    </details>
  );
}

/** `/app/workspaces/<id>`: one workspace, its actions, its process facts and its recent events, kept live. */
export function WorkspaceView({ id }: { id: string }) {
  const live = useLiveEvents();
  const ws = useQuery({
    queryKey: ['workspace', id],
    queryFn: async () => (await tenant.GET('/workspaces/{id}', { params: { path: { id } } })).data!,
    // Uptime and memory move without an event: a slow refresh while the page is open.
    refetchInterval: 15_000,
  });
  return (
    <Page title={ws.data?.name ?? 'Workspace'} actions={<Link to="/app/">← All workspaces</Link>}>
      <LiveIndicator {...live} />
      {ws.isPending ? <Loading what="the workspace" /> : null}
      {ws.isError ? <ErrorView error={ws.error} title="Could not load the workspace" /> : null}
      {ws.data ? (
        <>
          <p className="ws-headline">
            <StatusBadge status={ws.data.status} /> {ws.data.template ? <span className="muted">from template {ws.data.template}</span> : null}
          </p>
          <Actions ws={ws.data} />
          <Facts ws={ws.data} />
          <RecentOutput id={id} />
          <RecentEvents id={id} />
        </>
      ) : null}
    </Page>
  );
}
