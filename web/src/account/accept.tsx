import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { cp } from '../api';
import { Link } from '../router';
import { ErrorView, Page } from '../ui';

const STASH = 'molecule-invite-token';

/**
 * The token from an invitation link (`/invitations/accept#token=…`): in the fragment, so it never reaches a server
 * log. Kept for this tab as the page loads, so a sign-in through the identity provider (which cannot carry the
 * fragment through its redirects) comes back to it.
 */
const fromHash = new URLSearchParams(window.location.hash.replace(/^#/, '')).get('token');
if (fromHash && window.location.pathname === '/invitations/accept') sessionStorage.setItem(STASH, fromHash);

function tokenFromLink(): string {
  return new URLSearchParams(window.location.hash.replace(/^#/, '')).get('token') ?? sessionStorage.getItem(STASH) ?? '';
}

export function AcceptInvitation() {
  const qc = useQueryClient();
  const [token, setToken] = useState(tokenFromLink);
  const accept = useMutation({
    mutationFn: async () => (await cp.POST('/api/v1/invitations/accept', { body: { token: token.trim() } })).data!,
    onSuccess: async () => {
      // Used up: drop it from the address bar and history.
      window.history.replaceState(null, '', window.location.pathname);
      sessionStorage.removeItem(STASH);
      await qc.invalidateQueries({ queryKey: ['orgs'] });
    },
  });
  if (accept.data) {
    const { organization, role } = accept.data;
    return (
      <Page title="Invitation accepted">
        <div className="card" role="status">
          <p>
            You joined <strong>{organization.name}</strong> as {role}.
          </p>
          <Link to={`/orgs/${organization.slug}`} className="button primary">
            Open {organization.slug}
          </Link>
        </div>
      </Page>
    );
  }
  return (
    <Page title="Accept an invitation">
      <form
        className="card form"
        onSubmit={(e) => {
          e.preventDefault();
          if (token.trim()) accept.mutate();
        }}
      >
        <label>
          Invite token
          <input value={token} onChange={(e) => setToken(e.target.value)} required autoComplete="off" spellCheck={false} aria-describedby="token-help" />
        </label>
        <p id="token-help" className="muted">
          The link you were sent fills this in; a pasted token (<code>moli_…</code>) works too. It works once.
        </p>
        {accept.isError ? <ErrorView error={accept.error} title="Could not accept the invitation" /> : null}
        <button type="submit" className="primary" disabled={!token.trim() || accept.isPending}>
          Accept invitation
        </button>
      </form>
    </Page>
  );
}
