import { useInfiniteQuery, useMutation } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { operations } from '../../../src/sdk/generated/tenant';
import { tenant } from '../api';
import { Empty, ErrorView, Loading, Page } from '../ui';
import './audit/audit.css';

type AuditQuery = Omit<NonNullable<operations['queryAudit']['parameters']['query']>, 'limit' | 'cursor'>;
type AuditPage = Awaited<ReturnType<typeof readPage>>;
type AuditEvent = AuditPage['events'][number];

const PAGE = 50;
const TAIL_MS = 2000;
/** At most this many new entries are fetched per live-tail poll (the rest follow on the next ones). */
const TAIL_MAX = 500;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** Display prefixes of keys (src/core/credentials/format.ts) and the actor each names in the audit. */
const KEY_ACTORS: Array<[string, string, number]> = [
  ['mola_', 'org-token', 13],
  ['molw_', 'workspace-token', 13],
];

interface Filters {
  actor: string;
  credential: string;
  method: string;
  path: string;
  status: string;
  since: string;
  until: string;
}
const NO_FILTERS: Filters = { actor: '', credential: '', method: '', path: '', status: '', since: '', until: '' };

/**
 * The form's filters as GET /audit's query. A key prefix (`mola_…`, `molw_…`) in Credential names the key's actor
 * (`org-token:<prefix>`, only its display prefix is ever sent, should a whole key be pasted); anything else there is a
 * credential id. Throws a message for the form when the filters cannot be sent as they are.
 */
function toQuery(f: Filters): AuditQuery {
  const q: AuditQuery = {};
  const credential = f.credential.trim();
  const key = KEY_ACTORS.find(([prefix]) => credential.startsWith(prefix));
  let actor = f.actor.trim();
  if (key) {
    const byKey = `${key[1]}:${credential.slice(0, key[2])}`;
    if (actor && actor !== byKey) throw new Error(`Credential ${credential.slice(0, key[2])} is the actor ${byKey}: clear Actor or use that.`);
    actor = byKey;
  } else if (credential) q.credential_id = credential;
  if (actor) q.actor = actor;
  if (f.method) q.method = f.method;
  if (f.path.trim()) q.path = f.path.trim();
  if (f.status.trim()) {
    // The range (100–599) is the server's to check: its answer names the rule.
    if (!/^\d{3}$/.test(f.status.trim())) throw new Error('Status must be a three-digit HTTP status code, e.g. 403.');
    q.status = Number(f.status.trim());
  }
  // datetime-local is the browser's local time; the API takes RFC 3339.
  if (f.since) q.since = new Date(f.since).toISOString();
  if (f.until) q.until = new Date(f.until).toISOString();
  return q;
}

/** One page, newest first; `own` collects this page's own request ids so that its reads are not shown back. */
async function readPage(query: AuditQuery, cursor: number | undefined, own: Set<string>, limit = PAGE) {
  const { data, response } = await tenant.GET('/audit', { params: { query: { ...query, limit, ...(cursor ? { cursor } : {}) } } });
  const rid = response.headers.get('x-request-id');
  if (rid) own.add(rid);
  return data!;
}

/** Entries newer than `after`, newest first (at most `max`), paging back through the newest-first list. */
async function eventsAfter(query: AuditQuery, after: number, own: Set<string>): Promise<AuditEvent[]> {
  const found: AuditEvent[] = [];
  let cursor: number | undefined;
  for (;;) {
    const page = await readPage(query, cursor, own, 200);
    for (const e of page.events) {
      if (e.seq <= after || found.length >= TAIL_MAX) return found;
      found.push(e);
    }
    if (page.next_cursor === null) return found;
    cursor = page.next_cursor;
  }
}

function FilterForm({ initial, onApply }: { initial: Filters; onApply: (f: Filters) => void }) {
  const [f, setF] = useState(initial);
  const [problem, setProblem] = useState<string | null>(null);
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    try {
      toQuery(f);
      setProblem(null);
      onApply(f);
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <form className="card audit-filters" onSubmit={onSubmit} aria-labelledby="audit-filters-title">
      <h2 id="audit-filters-title">Filter</h2>
      <div className="audit-filter-grid">
        <label>
          Actor
          <input value={f.actor} onChange={set('actor')} maxLength={200} placeholder="org-token:mola_… or session:…" spellCheck={false} />
        </label>
        <label>
          Credential
          <input value={f.credential} onChange={set('credential')} maxLength={64} placeholder="key prefix mola_… or id" spellCheck={false} />
        </label>
        <label>
          Path starts with
          <input value={f.path} onChange={set('path')} maxLength={500} placeholder="/settings/secrets" spellCheck={false} />
        </label>
        <label>
          Method
          <select value={f.method} onChange={set('method')}>
            <option value="">any</option>
            {METHODS.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        <label>
          Status
          <input value={f.status} onChange={set('status')} inputMode="numeric" maxLength={3} placeholder="e.g. 403" />
        </label>
        <label>
          From
          <input type="datetime-local" value={f.since} onChange={set('since')} />
        </label>
        <label>
          Until
          <input type="datetime-local" value={f.until} onChange={set('until')} />
        </label>
      </div>
      {problem ? (
        <p className="field-error" role="alert">
          {problem}
        </p>
      ) : null}
      <div className="row audit-filter-actions">
        <button type="submit" className="primary">
          Apply filters
        </button>
        <button
          type="button"
          onClick={() => {
            setF(NO_FILTERS);
            setProblem(null);
            onApply(NO_FILTERS);
          }}
        >
          Clear
        </button>
      </div>
    </form>
  );
}

function VerifyChain() {
  const verify = useMutation({ mutationFn: async () => (await tenant.GET('/audit/verify')).data! });
  const v = verify.data;
  let result = null;
  if (v?.ok) {
    const anchor = v.anchor;
    result = (
      <p className="audit-verified">
        <strong>Chain intact.</strong> {v.count} entries checked, every hash matches; head <code>{v.head.slice(0, 16)}…</code>
        {anchor?.checked
          ? ` Consistent with the anchor last reported to the control plane (${anchor.count} entries, ${new Date(anchor.reported_at).toLocaleString()}).`
          : anchor
            ? ` Anchor not checked: ${anchor.reason}.`
            : null}
      </p>
    );
  } else if (v) {
    result = (
      <p className="audit-broken">
        <strong>Chain broken</strong> at entry #{v.broken_at}
        {v.event_id ? (
          <>
            {' '}
            (<code>{v.event_id}</code>)
          </>
        ) : null}
        : {v.reason}. {v.count} entries checked.
      </p>
    );
  }
  return (
    <section className="card audit-verify" aria-labelledby="audit-verify-title">
      <h2 id="audit-verify-title">Integrity</h2>
      <p className="muted">Every entry carries the hash of the one before it: recomputing them proves nothing was altered, removed or reordered.</p>
      <button onClick={() => verify.mutate()} disabled={verify.isPending}>
        {verify.isPending ? 'Verifying…' : 'Verify chain'}
      </button>
      <div role="status" aria-live="polite" className="audit-verify-result">
        {verify.isPending ? 'Recomputing the chain…' : result}
      </div>
      {verify.isError ? <ErrorView error={verify.error} title="Could not verify the chain" /> : null}
    </section>
  );
}

function ExportButton({ query }: { query: AuditQuery }) {
  const exp = useMutation({
    mutationFn: async () => {
      const { data } = await tenant.GET('/audit/export', { params: { query }, parseAs: 'blob' });
      const url = URL.createObjectURL(data as Blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = 'audit.ndjson';
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    },
  });
  return (
    <>
      <button onClick={() => exp.mutate()} disabled={exp.isPending}>
        {exp.isPending ? 'Exporting…' : 'Export NDJSON'}
      </button>
      {exp.isError ? <ErrorView error={exp.error} title="Could not export" /> : null}
    </>
  );
}

function EventRow({ e, fresh }: { e: AuditEvent; fresh: boolean }) {
  return (
    <tr className={fresh ? 'audit-new' : undefined}>
      <td>
        <time dateTime={e.occurred_at}>{new Date(e.occurred_at).toLocaleString()}</time>
      </td>
      <td>
        <code>{e.actor}</code>
      </td>
      <td>{e.method}</td>
      <td>
        <code>{e.path}</code>
      </td>
      <td>
        <span className={e.status >= 400 ? 'badge expired' : 'badge'}>{e.status}</span>
      </td>
      <td>{e.duration_ms} ms</td>
      <td>
        <code className="request-id">{e.request_id}</code>
      </td>
    </tr>
  );
}

/** The trail under one set of filters: pages of older entries below, live ones on top while following. */
function Trail({ filters, own }: { filters: Filters; own: Set<string> }) {
  const query = toQuery(filters);
  const pages = useInfiniteQuery({
    queryKey: ['audit', query],
    queryFn: ({ pageParam }) => readPage(query, pageParam, own),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    gcTime: 0,
  });
  const [live, setLive] = useState<AuditEvent[]>([]);
  const [following, setFollowing] = useState(false);
  const [announce, setAnnounce] = useState('');
  const [tailError, setTailError] = useState<unknown>(null);
  const head = useRef<number | null>(null);
  const firstSeq = pages.data?.pages[0]?.events[0]?.seq ?? 0;
  if (pages.data && head.current === null) head.current = firstSeq;

  useEffect(() => {
    if (!following) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const tick = async () => {
      try {
        const fresh = await eventsAfter(query, head.current ?? 0, own);
        if (stopped) return;
        setTailError(null);
        if (fresh.length > 0) {
          head.current = Math.max(head.current ?? 0, fresh[0]!.seq);
          const shown = fresh.filter((e) => !own.has(e.request_id));
          if (shown.length > 0) {
            setLive((prev) => [...shown, ...prev]);
            setAnnounce(shown.length === 1 ? `New entry: ${shown[0]!.line}` : `${shown.length} new entries, the newest: ${shown[0]!.line}`);
          }
        }
      } catch (err) {
        if (!stopped) setTailError(err);
      }
      if (!stopped) timer = setTimeout(tick, TAIL_MS);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
    // The query is fixed for this component: the page keys it by its filters.
  }, [following]);

  const older = (pages.data?.pages ?? []).flatMap((p) => p.events).filter((e) => !own.has(e.request_id));
  const liveIds = new Set(live.map((e) => e.seq));
  const rows = [...live, ...older.filter((e) => !liveIds.has(e.seq))];
  return (
    <section aria-labelledby="audit-list-title">
      <div className="row">
        <h2 id="audit-list-title">Entries</h2>
        <div className="row audit-tools">
          <label className="check audit-follow">
            <input type="checkbox" checked={following} disabled={!pages.data} onChange={(e) => setFollowing(e.target.checked)} />
            Live tail
          </label>
          <ExportButton query={query} />
        </div>
      </div>
      <p className="muted">
        Newest first. {following ? `Following: new entries appear on top every ${TAIL_MS / 1000} s.` : 'Turn on Live tail to follow new entries.'} This page’s own reads of the audit are
        not shown.
      </p>
      <p className="sr-only" aria-live="polite">
        {announce}
      </p>
      {tailError ? <ErrorView error={tailError} title="Live tail: could not read new entries (retrying)" /> : null}
      {pages.isPending ? <Loading what="audit entries" /> : null}
      {pages.isError ? <ErrorView error={pages.error} title="Could not read the audit trail" /> : null}
      {pages.data && rows.length === 0 ? <Empty>No audit entries match{following ? ' yet' : ''}.</Empty> : null}
      {rows.length > 0 ? (
        <div className="table-wrap">
          <table className="audit-table">
            <caption className="sr-only">Audit entries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Actor</th>
                <th scope="col">Method</th>
                <th scope="col">Path</th>
                <th scope="col">Status</th>
                <th scope="col">Took</th>
                <th scope="col">Request id</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => (
                <EventRow key={e.seq} e={e} fresh={liveIds.has(e.seq)} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {pages.isFetchNextPageError ? <ErrorView error={pages.error} title="Could not read older entries" /> : null}
      {pages.hasNextPage ? (
        <button onClick={() => void pages.fetchNextPage()} disabled={pages.isFetchingNextPage}>
          {pages.isFetchingNextPage ? 'Loading older…' : 'Older entries'}
        </button>
      ) : pages.data && rows.length > 0 ? (
        <p className="muted">The oldest matching entry is shown.</p>
      ) : null}
    </section>
  );
}

/** Audit: the org's tamper-evident trail, filtered, paged, followed live, and its hash chain verified. */
export function AuditPage() {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  // The request ids of this page's own reads of the audit, under any filters: they are not shown back.
  const own = useRef(new Set<string>()).current;
  return (
    <Page title="Audit">
      <div className="audit-top">
        <FilterForm initial={filters} onApply={setFilters} />
        <VerifyChain />
      </div>
      <Trail key={JSON.stringify(filters)} filters={filters} own={own} />
    </Page>
  );
}
