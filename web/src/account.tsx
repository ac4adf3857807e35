import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { cp, OIDC_PROVIDER, ON_TENANT, SLUG_PATTERN, SLUG_RULE } from './api';
import { Link, useRouter } from './router';
import { AcceptInvitation } from './account/accept';
import { Billing } from './account/billing';
import { DeviceApproval } from './account/device';
import { Members } from './account/members';
import { Empty, ErrorView, Loading, Page } from './ui';

/** Pages a link from elsewhere opens (an invitation, `molecule auth login`): signed out, they sign in in place. */
const SIGN_IN_IN_PLACE = new Set(['/invitations/accept', '/device']);

/** The signed-in user, or null when there is no session (401). */
export function useMe() {
  return useQuery({
    queryKey: ['me'],
    queryFn: async () => {
      try {
        const { data } = await cp.GET('/api/v1/auth/me');
        return data ?? null;
      } catch (err) {
        if ((err as { status?: number }).status === 401) return null;
        throw err;
      }
    },
  });
}

export function SignIn({ mode, onDone }: { mode: 'signin' | 'signup'; onDone: () => void }) {
  const qc = useQueryClient();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const submit = useMutation({
    mutationFn: async () => {
      if (mode === 'signin') await cp.POST('/api/v1/auth/login', { body: { email, password } });
      else await cp.POST('/api/v1/auth/signup', { body: { email, password, ...(name ? { name } : {}) } });
    },
    onSuccess: async () => {
      await qc.invalidateQueries();
      onDone();
    },
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    submit.mutate();
  };
  return (
    <Page title={mode === 'signin' ? 'Sign in' : 'Create an account'}>
      <form className="card form" onSubmit={onSubmit}>
        {mode === 'signup' ? (
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="name" />
          </label>
        ) : null}
        <label>
          Email
          <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="email" />
        </label>
        <label>
          Password
          <input type="password" required value={password} onChange={(e) => setPassword(e.target.value)} autoComplete={mode === 'signin' ? 'current-password' : 'new-password'} />
        </label>
        {submit.isError ? <ErrorView error={submit.error} title={mode === 'signin' ? 'Could not sign in' : 'Could not sign up'} /> : null}
        <button type="submit" className="primary" disabled={submit.isPending}>
          {submit.isPending ? 'Please wait…' : mode === 'signin' ? 'Sign in' : 'Sign up'}
        </button>
        {OIDC_PROVIDER && !ON_TENANT ? (
          <a className="button" href={`/api/v1/auth/${mode === 'signin' ? 'login' : 'signup'}?return_to=${encodeURIComponent(SIGN_IN_IN_PLACE.has(window.location.pathname) ? window.location.pathname + window.location.search : '/orgs')}`}>
            {mode === 'signin' ? 'Sign in' : 'Sign up'} with {OIDC_PROVIDER}
          </a>
        ) : null}
        <p className="muted">
          {mode === 'signin' ? (
            <>
              No account? <Link to="/signup">Sign up</Link>
            </>
          ) : (
            <>
              Have an account? <Link to="/signin">Sign in</Link>
            </>
          )}
        </p>
      </form>
    </Page>
  );
}

function Terms() {
  const qc = useQueryClient();
  const status = useQuery({ queryKey: ['terms'], queryFn: async () => (await cp.GET('/api/v1/auth/terms-status')).data! });
  const accept = useMutation({
    mutationFn: async () => (await cp.POST('/api/v1/auth/accept-terms', { body: status.data ? { version: status.data.version } : {} })).data!,
    onSuccess: () => qc.invalidateQueries(),
  });
  if (status.isPending) return <Loading what="the terms" />;
  if (status.isError) return <ErrorView error={status.error} />;
  return (
    <Page title="Terms of service">
      <div className="card">
        {status.data.accepted ? (
          <p role="status">
            You have accepted the terms of service, version <strong>{status.data.version}</strong>. <Link to="/orgs/new">Create an organization</Link>
          </p>
        ) : (
          <>
            <p>
              Creating organizations needs your acceptance of the terms of service, version <strong>{status.data.version}</strong>.
            </p>
            {accept.isError ? <ErrorView error={accept.error} /> : null}
            <button className="primary" onClick={() => accept.mutate()} disabled={accept.isPending}>
              Accept the terms
            </button>
          </>
        )}
      </div>
    </Page>
  );
}

function OrgList() {
  const orgs = useQuery({ queryKey: ['orgs'], queryFn: async () => (await cp.GET('/api/v1/orgs')).data! });
  return (
    <Page title="Your organizations" actions={<Link to="/orgs/new" className="button primary">New organization</Link>}>
      {orgs.isPending ? <Loading what="organizations" /> : null}
      {orgs.isError ? <ErrorView error={orgs.error} title="Could not list organizations" /> : null}
      {orgs.data && orgs.data.length === 0 ? <Empty>You are in no organization yet. Create one to get its console.</Empty> : null}
      {orgs.data && orgs.data.length > 0 ? (
        <ul className="list">
          {orgs.data.map((o) => (
            <li key={o.id} className="card row">
              <div>
                <Link to={`/orgs/${o.slug}`}>
                  <strong>{o.name}</strong>
                </Link>{' '}
                <span className="muted">{o.slug}</span>
              </div>
              <span className={`badge status-${o.status}`}>{o.status}</span>
            </li>
          ))}
        </ul>
      ) : null}
    </Page>
  );
}

function NewOrg() {
  const { navigate } = useRouter();
  const qc = useQueryClient();
  const [slug, setSlug] = useState('');
  const [name, setName] = useState('');
  const slugProblem = slug === '' ? null : SLUG_PATTERN.test(slug) ? null : `The slug must be ${SLUG_RULE}.`;
  const create = useMutation({
    mutationFn: async () => (await cp.POST('/api/v1/orgs', { body: { slug, name } })).data!,
    onSuccess: async (org) => {
      await qc.invalidateQueries({ queryKey: ['orgs'] });
      navigate(`/orgs/${org.slug}`);
    },
  });
  return (
    <Page title="New organization">
      <form
        className="card form"
        onSubmit={(e) => {
          e.preventDefault();
          if (!slugProblem) create.mutate();
        }}
      >
        <label>
          Name
          <input required value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
        </label>
        <label>
          Slug (its console: <code>{slug || '<slug>'}.{window.location.hostname}</code>)
          <input required value={slug} onChange={(e) => setSlug(e.target.value)} aria-invalid={slugProblem !== null} aria-describedby="slug-help" />
        </label>
        <p id="slug-help" className={slugProblem ? 'field-error' : 'muted'} aria-live="polite">
          {slugProblem ?? `Lowercase, ${SLUG_RULE}. It cannot change later.`}
        </p>
        {create.isError ? <ErrorView error={create.error} title="Could not create the organization" /> : null}
        <button type="submit" className="primary" disabled={create.isPending || slugProblem !== null}>
          Create
        </button>
      </form>
    </Page>
  );
}

function OrgView({ slug }: { slug: string }) {
  const status = useQuery({
    queryKey: ['provision-status', slug],
    queryFn: async () => (await cp.GET('/api/v1/orgs/{slug}/provision-status', { params: { path: { slug } } })).data!,
    // Polls while provisioning; stops once running or failed.
    refetchInterval: (q) => (q.state.data && q.state.data.status !== 'provisioning' ? false : 1500),
  });
  return (
    <Page title={slug}>
      {status.isPending ? <Loading what="the organization's status" /> : null}
      {status.isError ? <ErrorView error={status.error} title="Could not read the provisioning status" /> : null}
      {status.data ? (
        <div className="card">
          <p>
            Status: <span className={`badge status-${status.data.status}`}>{status.data.status}</span> <span className="muted">({status.data.stage})</span>
          </p>
          <progress max={100} value={status.data.progress} aria-label="Provisioning progress">
            {status.data.progress}%
          </progress>
          <p aria-live="polite">{status.data.message}</p>
          {status.data.status === 'running' && status.data.url ? (
            <a className="button primary" href={`${status.data.url}/app/`}>
              Open the {slug} console
            </a>
          ) : null}
        </div>
      ) : null}
      <p>
        <Link to={`/orgs/${slug}/billing`} className="button">
          Billing: plan, credits and invoices
        </Link>
      </p>
      <Members slug={slug} />
      <p>
        <Link to="/orgs">← All organizations</Link>
      </p>
    </Page>
  );
}

export function AccountApp() {
  const { path, navigate } = useRouter();
  const me = useMe();
  const qc = useQueryClient();
  const signout = useMutation({
    mutationFn: async () => {
      await cp.POST('/api/v1/auth/signout');
    },
    onSuccess: async () => {
      await qc.invalidateQueries();
      navigate('/signin');
    },
  });
  const signedIn = !!me.data;
  useEffect(() => {
    if (me.isPending || me.isError) return;
    if (!signedIn && path !== '/signin' && path !== '/signup' && !SIGN_IN_IN_PLACE.has(path)) navigate('/signin');
    if (signedIn && (path === '/' || path === '/signin' || path === '/signup')) navigate('/orgs');
  }, [me.isPending, me.isError, signedIn, path, navigate]);

  let body;
  if (me.isPending) body = <Loading what="your account" />;
  else if (me.isError) body = <ErrorView error={me.error} />;
  else if (!me.data && SIGN_IN_IN_PLACE.has(path)) body = <SignIn mode="signin" onDone={() => undefined} />;
  else if (!me.data) body = <SignIn mode={path === '/signup' ? 'signup' : 'signin'} onDone={() => navigate('/orgs')} />;
  else if (path === '/device') body = <DeviceApproval />;
  else if (path === '/invitations/accept') body = <AcceptInvitation />;
  // Only creating an org needs the terms (the server's rule): an org one already belongs to opens without them.
  else if (path === '/terms') body = <Terms />;
  else if (path === '/orgs/new') body = me.data.terms_accepted ? <NewOrg /> : <Terms />;
  else if (/^\/orgs\/[^/]+\/billing$/.test(path)) body = <Billing slug={decodeURIComponent(path.split('/')[2]!)} />;
  else if (path.startsWith('/orgs/')) body = <OrgView slug={decodeURIComponent(path.slice('/orgs/'.length))} />;
  else body = <OrgList />;

  return (
    <>
      <header className="topbar">
        <Link to="/" className="brand">
          Molecule
        </Link>
        {me.data ? (
          <nav aria-label="Account">
            <span className="muted who">{me.data.email}</span>
            <button onClick={() => signout.mutate()}>Sign out</button>
          </nav>
        ) : null}
      </header>
      {body}
    </>
  );
}
