import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState, type FormEvent, type ReactElement } from 'react';
import { cp, ORG_SLUG, tenant } from './api';
import { SignIn, useMe } from './account';
import { Link, useRouter } from './router';
import { Empty, ErrorView, Loading, TypedConfirm } from './ui';
import { useWorkspaces } from './queries';
import { ApprovalsPage } from './pages/approvals';
import { AuditPage } from './pages/audit';
import { SecretsPage } from './pages/secrets';
import { TemplatesPage } from './pages/templates';
import { WorkspacesPage } from './pages/workspaces';

type Role = 'reader' | 'editor' | 'admin';
const DAY = 24 * 3600_000;

function fmt(at: string | null): string {
  return at ? new Date(at).toLocaleString() : '—';
}


/** A minted or rotated key's plaintext, shown once. */
function Plaintext({ token, onClose }: { token: string; onClose: () => void }) {
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(token);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <section className="card reveal" aria-labelledby="reveal-title">
      <h3 id="reveal-title">Your new key</h3>
      <p className="warning" role="note">
        Copy this key now: it will not be shown again. Anyone holding it acts as this key’s role in {ORG_SLUG}.
      </p>
      <code className="token" data-testid="new-key">
        {token}
      </code>
      <div className="row">
        <button className="primary" onClick={copy}>
          {copied === 'yes' ? 'Copied' : 'Copy key'}
        </button>
        <span aria-live="polite" className="muted">
          {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'failed' ? 'Could not copy: select the key and copy it by hand.' : ''}
        </span>
      </div>
      <p className="muted">In a shell:</p>
      <code className="token">export MOLECULE_API_KEY={token}</code>
      <button onClick={onClose}>I have copied it</button>
    </section>
  );
}

function MintForm({ onMinted }: { onMinted: (token: string) => void }) {
  const qc = useQueryClient();
  const workspaces = useWorkspaces();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('admin');
  const [binding, setBinding] = useState<string[]>([]);
  const [expiryDays, setExpiryDays] = useState('90');
  const [approval, setApproval] = useState(false);
  const mint = useMutation({
    mutationFn: async () => {
      const days = expiryDays === 'never' ? null : Number(expiryDays);
      const { data } = await tenant.POST('/org/tokens', {
        body: {
          name,
          role,
          workspace_ids: binding.length > 0 ? binding : null,
          expires_at: days === null ? null : new Date(Date.now() + days * DAY).toISOString(),
          approval_required: approval,
        },
      });
      return data!;
    },
    onSuccess: async (key) => {
      setName('');
      // A key minted by an approval-required key waits for a human: nothing to show yet.
      if ('auth_token' in key) onMinted(key.auth_token);
      await qc.invalidateQueries({ queryKey: ['org-tokens'] });
    },
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    mint.mutate();
  };
  return (
    <form className="card form" onSubmit={onSubmit} aria-labelledby="mint-title">
      <h3 id="mint-title">New key</h3>
      <label>
        Name
        <input required value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
      </label>
      <label>
        Role
        <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
          <option value="admin">admin</option>
          <option value="editor">editor</option>
          <option value="reader">reader</option>
        </select>
      </label>
      <label>
        Expires in
        <select value={expiryDays} onChange={(e) => setExpiryDays(e.target.value)}>
          <option value="1">1 day</option>
          <option value="7">7 days</option>
          <option value="30">30 days</option>
          <option value="90">90 days</option>
          <option value="365">1 year</option>
          <option value="never">never</option>
        </select>
      </label>
      <fieldset>
        <legend>Workspaces (none checked: the whole org)</legend>
        {workspaces.isPending ? <Loading what="workspaces" /> : null}
        {workspaces.isError ? <ErrorView error={workspaces.error} title="Could not list workspaces" /> : null}
        {workspaces.data && workspaces.data.length === 0 ? <Empty>No workspaces yet: the key covers the whole org.</Empty> : null}
        {workspaces.data?.map((w) => (
          <label key={w.id} className="check">
            <input
              type="checkbox"
              checked={binding.includes(w.id)}
              onChange={(e) => setBinding(e.target.checked ? [...binding, w.id] : binding.filter((id) => id !== w.id))}
            />
            {w.name}
          </label>
        ))}
      </fieldset>
      <label className="check">
        <input type="checkbox" checked={approval} onChange={(e) => setApproval(e.target.checked)} />
        Require a human’s approval for this key’s deletions and gated actions
      </label>
      {mint.isError ? <ErrorView error={mint.error} title="Could not mint the key" /> : null}
      <button type="submit" className="primary" disabled={mint.isPending}>
        {mint.isPending ? 'Minting…' : 'Mint key'}
      </button>
    </form>
  );
}

type Token = Awaited<ReturnType<typeof listTokens>>['tokens'][number];
/** One page of keys, newest first; `next_cursor` is null on the last. */
async function listTokens(cursor: string | null) {
  return (await tenant.GET('/org/tokens', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })).data!;
}

function RevokeDialog({ token, onClose }: { token: Token; onClose: () => void }) {
  const qc = useQueryClient();
  const expected = token.name ?? token.prefix;
  const revoke = useMutation({
    mutationFn: async () => (await tenant.DELETE('/org/tokens/{id}', { params: { path: { id: token.id } } })).data!,
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['org-tokens'] });
      onClose();
    },
  });
  return (
    <TypedConfirm
      label={`Revoke ${expected}`}
      expected={expected}
      inputLabel="Key name"
      submitLabel="Revoke key"
      busy={revoke.isPending}
      error={revoke.error}
      errorTitle="Could not revoke the key"
      onConfirm={() => revoke.mutate()}
      onCancel={onClose}
    >
      Revoking <strong>{expected}</strong> refuses its next request. Type its name to confirm.
    </TypedConfirm>
  );
}

const GRACES: Array<[string, number]> = [
  ['now', 0],
  ['1 hour', 3600],
  ['24 hours', 24 * 3600],
  ['7 days', 7 * 24 * 3600],
];

function RotateDialog({ token, onClose, onMinted }: { token: Token; onClose: () => void; onMinted: (t: string) => void }) {
  const qc = useQueryClient();
  const [grace, setGrace] = useState(3600);
  const rotate = useMutation({
    mutationFn: async () => (await tenant.POST('/org/tokens/{id}/rotate', { params: { path: { id: token.id } }, body: { grace_seconds: grace } })).data!,
    onSuccess: async (key) => {
      onMinted(key.auth_token);
      await qc.invalidateQueries({ queryKey: ['org-tokens'] });
      onClose();
    },
  });
  return (
    <form
      className="card confirm"
      aria-label={`Rotate ${token.name ?? token.prefix}`}
      onSubmit={(e) => {
        e.preventDefault();
        rotate.mutate();
      }}
    >
      <fieldset>
        <legend>The old key keeps working for</legend>
        {GRACES.map(([label, seconds]) => (
          <label key={seconds} className="check">
            <input type="radio" name="grace" checked={grace === seconds} onChange={() => setGrace(seconds)} />
            {label}
          </label>
        ))}
      </fieldset>
      {rotate.isError ? <ErrorView error={rotate.error} title="Could not rotate the key" /> : null}
      <div className="row">
        <button type="submit" className="primary" disabled={rotate.isPending}>
          Rotate key
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** The org key policy: enforced by the tenant at every mint (GET/PUT /org/settings/key-policy). */
function KeyPolicyForm() {
  const qc = useQueryClient();
  const policy = useQuery({ queryKey: ['key-policy'], queryFn: async () => (await tenant.GET('/org/settings/key-policy')).data! });
  const [maxDays, setMaxDays] = useState<string | null>(null);
  const [requireExpiry, setRequireExpiry] = useState<boolean | null>(null);
  const days = maxDays ?? (policy.data?.max_lifetime_days != null ? String(policy.data.max_lifetime_days) : '');
  const required = requireExpiry ?? policy.data?.require_expiry ?? false;
  const save = useMutation({
    mutationFn: async () =>
      (await tenant.PUT('/org/settings/key-policy', { body: { max_lifetime_days: days.trim() === '' ? null : Number(days), require_expiry: required } })).data!,
    onSuccess: async () => {
      setMaxDays(null);
      setRequireExpiry(null);
      await qc.invalidateQueries({ queryKey: ['key-policy'] });
    },
  });
  return (
    <form
      className="card form"
      aria-labelledby="policy-title"
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      <h3 id="policy-title">Key policy</h3>
      {policy.isPending ? <Loading what="the key policy" /> : null}
      {policy.isError ? <ErrorView error={policy.error} title="Could not read the key policy" /> : null}
      {policy.data ? (
        <>
          <label>
            Maximum key lifetime in days (empty: no limit)
            <input inputMode="numeric" value={days} onChange={(e) => setMaxDays(e.target.value)} />
          </label>
          <label className="check">
            <input type="checkbox" checked={required} onChange={(e) => setRequireExpiry(e.target.checked)} />
            Every new key must expire
          </label>
          <p className="muted">
            {policy.data.updated_by ? `Last set by ${policy.data.updated_by}, ${fmt(policy.data.updated_at)}.` : 'No policy set yet.'} Existing keys are not affected.
          </p>
          {save.isError ? <ErrorView error={save.error} title="Could not save the key policy" /> : null}
          {save.isSuccess ? (
            <p role="status" className="muted">
              Saved.
            </p>
          ) : null}
          <button type="submit" disabled={save.isPending}>
            Save policy
          </button>
        </>
      ) : null}
    </form>
  );
}

type Filter = 'all' | 'expired' | 'unused' | 'no-expiry';

function KeysTab() {
  const tokens = useInfiniteQuery({
    queryKey: ['org-tokens'],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) => listTokens(pageParam),
    getNextPageParam: (last) => last.next_cursor,
  });
  const workspaces = useWorkspaces();
  const [revealed, setRevealed] = useState<string | null>(null);
  const [filter, setFilter] = useState<Filter>('all');
  const [acting, setActing] = useState<{ kind: 'revoke' | 'rotate'; token: Token } | null>(null);
  const now = Date.now();
  const shown = useMemo(() => {
    const all = tokens.data?.pages.flatMap((p) => p.tokens) ?? [];
    switch (filter) {
      case 'expired':
        return all.filter((t) => t.expires_at !== null && new Date(t.expires_at).getTime() <= now);
      case 'unused':
        return all.filter((t) => t.last_used_at === null || new Date(t.last_used_at).getTime() < now - 30 * DAY);
      case 'no-expiry':
        return all.filter((t) => t.expires_at === null);
      default:
        return all;
    }
  }, [tokens.data, filter, now]);
  const wsName = (id: string) => workspaces.data?.find((w) => w.id === id)?.name ?? id.slice(0, 8);

  return (
    <div className="tab">
      {revealed ? <Plaintext token={revealed} onClose={() => setRevealed(null)} /> : null}
      <div className="two">
        <MintForm onMinted={setRevealed} />
        <KeyPolicyForm />
      </div>
      <section aria-labelledby="keys-title">
        <div className="row">
          <h3 id="keys-title">Keys</h3>
          <label className="inline">
            Show
            <select value={filter} onChange={(e) => setFilter(e.target.value as Filter)}>
              <option value="all">all keys</option>
              <option value="expired">expired</option>
              <option value="unused">unused for 30 days</option>
              <option value="no-expiry">no expiry</option>
            </select>
          </label>
        </div>
        {tokens.isPending ? <Loading what="keys" /> : null}
        {tokens.isError ? <ErrorView error={tokens.error} title="Could not list keys" /> : null}
        {tokens.data && shown.length === 0 ? <Empty>{filter === 'all' ? 'No keys yet. Mint one above.' : 'No key matches this filter.'}</Empty> : null}
        {acting?.kind === 'revoke' ? <RevokeDialog token={acting.token} onClose={() => setActing(null)} /> : null}
        {acting?.kind === 'rotate' ? <RotateDialog token={acting.token} onClose={() => setActing(null)} onMinted={setRevealed} /> : null}
        {shown.length > 0 ? (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Role</th>
                  <th scope="col">Binding</th>
                  <th scope="col">Created by</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.map((t) => {
                  const left = t.expires_at ? new Date(t.expires_at).getTime() - now : null;
                  return (
                    <tr key={t.id}>
                      <td>{t.name ?? <span className="muted">unnamed</span>}</td>
                      <td>
                        <code>{t.prefix}</code>
                      </td>
                      <td>{t.role}</td>
                      <td>{t.workspace_ids ? t.workspace_ids.map(wsName).join(', ') : 'whole org'}</td>
                      <td>{t.created_by}</td>
                      <td>{fmt(t.created_at)}</td>
                      <td>{fmt(t.last_used_at)}</td>
                      <td>
                        {t.expires_at ? fmt(t.expires_at) : 'never'}{' '}
                        {left !== null && left <= 0 ? <span className="badge expired">expired</span> : left !== null && left < 7 * DAY ? <span className="badge soon">soon</span> : null}
                      </td>
                      <td className="actions">
                        <button onClick={() => setActing({ kind: 'rotate', token: t })} aria-label={`Rotate ${t.name ?? t.prefix}`}>
                          Rotate
                        </button>
                        <button className="danger" onClick={() => setActing({ kind: 'revoke', token: t })} aria-label={`Revoke ${t.name ?? t.prefix}`}>
                          Revoke
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ) : null}
        {tokens.hasNextPage ? (
          <div className="row">
            <span className="muted">Filters apply to the keys loaded so far.</span>
            <button onClick={() => void tokens.fetchNextPage()} disabled={tokens.isFetchingNextPage}>
              {tokens.isFetchingNextPage ? 'Loading more keys…' : 'Load more keys'}
            </button>
          </div>
        ) : null}
      </section>
    </div>
  );
}

/** Settings (⌘, / Ctrl-,): a modal dialog with tabs; Org API Keys is the first. */
function Settings({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog ref={ref} className="settings" aria-labelledby="settings-title" onClose={onClose}>
      <div className="page-head">
        <h2 id="settings-title">Settings</h2>
        <button onClick={onClose} aria-label="Close settings">
          Close
        </button>
      </div>
      <div role="tablist" aria-label="Settings sections">
        <button role="tab" aria-selected="true" id="tab-keys" aria-controls="panel-keys">
          Org API Keys
        </button>
      </div>
      <div role="tabpanel" id="panel-keys" aria-labelledby="tab-keys">
        <KeysTab />
      </div>
    </dialog>
  );
}

/** The tenant console's pages, by path under /app (each page module owns its own sub-paths). */
const PAGES: Array<{ prefix: string; label: string; render: (path: string) => ReactElement }> = [
  { prefix: '/app/secrets', label: 'Secrets', render: () => <SecretsPage /> },
  { prefix: '/app/audit', label: 'Audit', render: () => <AuditPage /> },
  { prefix: '/app/approvals', label: 'Approvals', render: () => <ApprovalsPage /> },
  { prefix: '/app/templates', label: 'Templates', render: () => <TemplatesPage /> },
  // Workspaces last: it owns / and /app/workspaces/*.
  { prefix: '/app/', label: 'Workspaces', render: (path) => <WorkspacesPage path={path} /> },
];

export function TenantApp() {
  const { path, navigate } = useRouter();
  const me = useMe();
  const qc = useQueryClient();
  const settingsOpen = path.startsWith('/app/settings');
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key === ',') {
        e.preventDefault();
        navigate('/app/settings/keys');
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [navigate]);
  const signout = useMutation({
    mutationFn: async () => {
      await cp.POST('/api/v1/auth/signout');
    },
    onSuccess: () => qc.invalidateQueries(),
  });

  let body;
  if (me.isPending) body = <Loading what="your session" />;
  else if (me.isError) body = <ErrorView error={me.error} />;
  else if (!me.data) body = <SignIn mode="signin" onDone={() => undefined} />;
  else body = (PAGES.find((p) => !settingsOpen && path.startsWith(p.prefix)) ?? PAGES[PAGES.length - 1]!).render(path);

  return (
    <>
      <header className="topbar">
        <Link to="/app/" className="brand">
          Molecule · {ORG_SLUG}
        </Link>
        {me.data ? (
          <nav aria-label="Console">
            {PAGES.slice()
              .reverse()
              .map((p) => (
                <Link key={p.prefix} to={p.prefix}>
                  {p.label}
                </Link>
              ))}
            <Link to="/app/settings/keys">Settings</Link>
            <span className="muted who">{me.data.email}</span>
            <button onClick={() => signout.mutate()}>Sign out</button>
          </nav>
        ) : null}
      </header>
      {body}
      {me.data && settingsOpen ? <Settings onClose={() => navigate('/app/')} /> : null}
    </>
  );
}
