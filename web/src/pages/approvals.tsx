import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { tenant } from '../api';
import { Empty, ErrorView, Loading, Page } from '../ui';
import './approvals.css';

/**
 * Approvals (issue 14): what agents and keys asked a human to allow, and the decision. The pending list refreshes every
 * few seconds; a decided item leaves it and shows under "Decided here" (read back with GET /approvals/{id}, so a gated
 * request's approval reads `consumed` once its retry has run). The server refuses the requester deciding its own
 * request (403): its message and request id are shown on the item.
 */

const PAGE_SIZE = 50;
const POLL_MS = 3000;

type Pending = NonNullable<Awaited<ReturnType<typeof listPending>>>[number];
async function listPending(before: string | undefined) {
  return (await tenant.GET('/approvals/pending', { params: { query: { limit: PAGE_SIZE, ...(before ? { before } : {}) } } })).data!;
}

function fmt(at: string | null | undefined): string {
  return at ? new Date(at).toLocaleString() : '—';
}

/** "in 3 h", "in 12 min", "expired". */
function left(at: string): string {
  const ms = new Date(at).getTime() - Date.now();
  if (ms <= 0) return 'expired';
  const min = Math.round(ms / 60_000);
  if (min < 60) return `in ${min} min`;
  const h = Math.round(min / 60);
  return h < 48 ? `in ${h} h` : `in ${Math.round(h / 24)} days`;
}

/** Labels for the context keys the gate writes; anything else is shown under its own name. */
const CONTEXT_LABELS: Record<string, string> = {
  key: 'Secret name',
  value_hash: 'Value (keyed hash; the value is never shown)',
  scope: 'Scope',
  workspace_id: 'Workspace id',
  method: 'Method',
  route: 'Route',
  params: 'Path parameters',
  query: 'Query',
};

function contextValue(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** What exactly is asked: the approval's context (secret values appear only as a hash). */
function Context({ context }: { context: Record<string, unknown> }) {
  const entries = Object.entries(context).filter(([, v]) => !(v !== null && typeof v === 'object' && Object.keys(v).length === 0));
  if (entries.length === 0) return null;
  return (
    <dl className="apr-context">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{CONTEXT_LABELS[k] ?? k}</dt>
          <dd>
            <code>{contextValue(v)}</code>
          </dd>
        </div>
      ))}
    </dl>
  );
}

function PendingItem({ approval, onDecided }: { approval: Pending; onDecided: (id: string) => void }) {
  const qc = useQueryClient();
  const decide = useMutation({
    mutationFn: async (decision: 'approved' | 'denied') =>
      (await tenant.POST('/approvals/{approvalId}/decide', { params: { path: { approvalId: approval.id } }, body: { decision } })).data!,
    onSuccess: async () => {
      onDecided(approval.id);
      await qc.invalidateQueries({ queryKey: ['approvals-pending'] });
    },
  });
  const title = `${approval.action}: ${approval.reason}`;
  const titleId = `apr-${approval.id}`;
  return (
    <li className="card apr-item" aria-labelledby={titleId}>
      <div className="row">
        <h3 id={titleId} className="apr-title">
          <span className="badge">{approval.action}</span> {approval.reason}
        </h3>
        <span className="muted">expires {left(approval.expires_at)}</span>
      </div>
      <dl className="apr-meta">
        <div>
          <dt>Workspace</dt>
          <dd>{approval.workspace_name ?? (approval.workspace_id ? approval.workspace_id : 'whole org')}</dd>
        </div>
        <div>
          <dt>Requested by</dt>
          <dd>
            <code>{approval.requested_by}</code>
          </dd>
        </div>
        <div>
          <dt>Requested at</dt>
          <dd>{fmt(approval.created_at)}</dd>
        </div>
        <div>
          <dt>Expires at</dt>
          <dd>{fmt(approval.expires_at)}</dd>
        </div>
      </dl>
      <Context context={approval.context} />
      {decide.isError ? <ErrorView error={decide.error} title="Could not record the decision" /> : null}
      <div className="row apr-actions">
        <span aria-live="polite" className="muted">
          {decide.isPending ? 'Recording…' : ''}
        </span>
        <div className="apr-buttons">
          <button className="primary" disabled={decide.isPending} onClick={() => decide.mutate('approved')} aria-label={`Approve ${title}`}>
            Approve
          </button>
          <button className="danger" disabled={decide.isPending} onClick={() => decide.mutate('denied')} aria-label={`Deny ${title}`}>
            Deny
          </button>
        </div>
      </div>
    </li>
  );
}

/** One approval decided from this page, read back from the server (status, who decided, when it was used). */
function DecidedRow({ id }: { id: string }) {
  const one = useQuery({
    queryKey: ['approval', id],
    queryFn: async () => (await tenant.GET('/approvals/{approvalId}', { params: { path: { approvalId: id } } })).data!,
    refetchInterval: POLL_MS,
  });
  if (one.isPending)
    return (
      <tr>
        <td colSpan={6}>
          <Loading what={id} />
        </td>
      </tr>
    );
  if (one.isError)
    return (
      <tr>
        <td colSpan={6}>
          <ErrorView error={one.error} title={`Could not read ${id}`} />
        </td>
      </tr>
    );
  const a = one.data;
  return (
    <tr>
      <td>{a.reason}</td>
      <td>{a.workspace_name ?? 'whole org'}</td>
      <td>
        <span className={`badge apr-status-${a.status}`}>{a.status}</span>
      </td>
      <td>
        <code>{a.decided_by ?? '—'}</code>
      </td>
      <td>{fmt(a.decided_at)}</td>
      <td>{fmt(a.consumed_at)}</td>
    </tr>
  );
}

export function ApprovalsPage() {
  const [decided, setDecided] = useState<string[]>([]);
  const pending = useInfiniteQuery({
    queryKey: ['approvals-pending'],
    queryFn: ({ pageParam }) => listPending(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => (last.length === PAGE_SIZE ? last[last.length - 1]!.id : undefined),
    refetchInterval: POLL_MS,
  });
  const items = (pending.data?.pages.flat() ?? []).filter((a) => !decided.includes(a.id));
  return (
    <Page title="Approvals">
      <p className="muted">
        Requests held for a human: approve to let the identical request run once, deny to refuse it. The list refreshes every few seconds. You cannot decide a
        request you made yourself.
      </p>
      <section aria-labelledby="apr-pending-title">
        <h2 id="apr-pending-title">
          Pending {pending.data ? <span className="badge">{items.length}</span> : null}
        </h2>
        {pending.isPending ? <Loading what="pending approvals" /> : null}
        {pending.isError ? <ErrorView error={pending.error} title="Could not list pending approvals" /> : null}
        {pending.data && items.length === 0 ? <Empty>Nothing is waiting for a decision.</Empty> : null}
        {items.length > 0 ? (
          <ul className="list" aria-label="Pending approvals">
            {items.map((a) => (
              <PendingItem key={a.id} approval={a} onDecided={(id) => setDecided((d) => [id, ...d])} />
            ))}
          </ul>
        ) : null}
        {pending.hasNextPage ? (
          <button onClick={() => void pending.fetchNextPage()} disabled={pending.isFetchingNextPage}>
            {pending.isFetchingNextPage ? 'Loading…' : 'Older requests'}
          </button>
        ) : null}
      </section>
      {decided.length > 0 ? (
        <section aria-labelledby="apr-decided-title">
          <h2 id="apr-decided-title">Decided here</h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Request</th>
                  <th scope="col">Workspace</th>
                  <th scope="col">Status</th>
                  <th scope="col">Decided by</th>
                  <th scope="col">Decided at</th>
                  <th scope="col">Used at</th>
                </tr>
              </thead>
              <tbody>
                {decided.map((id) => (
                  <DecidedRow key={id} id={id} />
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
    </Page>
  );
}
