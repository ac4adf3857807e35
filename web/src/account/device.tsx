import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { cp } from '../api';
import { ErrorView, Loading, Page } from '../ui';
import { fmtTime } from './shared';

/** The same rule as the server's USER_CODE_INPUT_PATTERN: eight letters, optionally split by a dash or a space. */
const USER_CODE = /^\s*[A-Za-z]{4}[- ]?[A-Za-z]{4}\s*$/;

/**
 * `/device` (RFC 8628 §3.3): the page `molecule auth login` sends the user to. `?user_code=` fills the code in; the
 * user sees what is asking (client, address, when, expiry), picks an org for it, and approves or denies.
 */
export function DeviceApproval() {
  const initial = new URLSearchParams(window.location.search).get('user_code') ?? '';
  const [typed, setTyped] = useState(initial);
  const [code, setCode] = useState(USER_CODE.test(initial) ? initial.trim() : '');
  return (
    <Page title="Connect a device">
      {code ? (
        <Pending code={code} onOther={() => setCode('')} />
      ) : (
        <form
          className="card form"
          aria-label="Device code"
          onSubmit={(e) => {
            e.preventDefault();
            if (USER_CODE.test(typed)) setCode(typed.trim());
          }}
        >
          <p>Enter the code your device shows (for example in the terminal where you ran <code>molecule auth login</code>).</p>
          <label>
            Code shown by your device
            <input value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" autoCapitalize="characters" spellCheck={false} maxLength={20} aria-describedby="code-help" />
          </label>
          <p id="code-help" className={typed && !USER_CODE.test(typed) ? 'field-error' : 'muted'} aria-live="polite">
            {typed && !USER_CODE.test(typed) ? 'The code is 8 letters, like BCDF-GHJK.' : 'Eight letters, like BCDF-GHJK.'}
          </p>
          <button type="submit" className="primary" disabled={!USER_CODE.test(typed)}>
            Continue
          </button>
        </form>
      )}
    </Page>
  );
}

function Pending({ code, onOther }: { code: string; onOther: () => void }) {
  const [org, setOrg] = useState('');
  const pending = useQuery({
    queryKey: ['device-pending', code],
    queryFn: async () => (await cp.GET('/api/v1/auth/device/pending', { params: { query: { user_code: code } } })).data!,
  });
  const orgs = useQuery({ queryKey: ['orgs'], queryFn: async () => (await cp.GET('/api/v1/orgs')).data! });
  const decide = useMutation({
    mutationFn: async (decision: 'approve' | 'deny') =>
      (await cp.POST('/api/v1/auth/device/approve', { body: { user_code: code, decision, ...(decision === 'approve' && org ? { org_slug: org } : {}) } })).data!,
  });
  if (decide.data) {
    const d = decide.data;
    return (
      <div className="card" role="status">
        <h2>{d.decision === 'approve' ? 'Device approved' : 'Device denied'}</h2>
        <p>
          {d.decision === 'approve'
            ? `${d.client_name} is signed in as you${d.org_slug ? ` and will use the organization ${d.org_slug}` : ''}. You can close this page and return to your device.`
            : `${d.client_name} was denied: it gets no access, and the code ${d.user_code} is no longer usable.`}
        </p>
      </div>
    );
  }
  if (pending.isPending) return <Loading what="the device request" />;
  if (pending.isError)
    return (
      <div className="card">
        <ErrorView error={pending.error} title={`Code ${code.toUpperCase()} cannot be used`} />
        <button type="button" onClick={onOther}>
          Enter another code
        </button>
      </div>
    );
  const p = pending.data;
  return (
    <form
      className="card form"
      aria-labelledby="device-ask"
      onSubmit={(e) => {
        e.preventDefault();
        decide.mutate('approve');
      }}
    >
      <p id="device-ask">A device is asking to sign in to Molecule as you. Approve only if you started this yourself and the code matches the one your device shows.</p>
      <dl className="facts">
        <dt>Code</dt>
        <dd>
          <strong data-testid="device-code">{p.user_code}</strong>
        </dd>
        <dt>Device</dt>
        <dd>{p.client_name}</dd>
        <dt>From address</dt>
        <dd>{p.client_ip ?? 'unknown'}</dd>
        <dt>Asked at</dt>
        <dd>{fmtTime(p.created_at)}</dd>
        <dt>Expires</dt>
        <dd>{fmtTime(p.expires_at)}</dd>
      </dl>
      <label>
        Organization for the device to use
        <select value={org} onChange={(e) => setOrg(e.target.value)}>
          <option value="">No particular organization</option>
          {(orgs.data ?? []).map((o) => (
            <option key={o.id} value={o.slug}>
              {o.name} ({o.slug}, {o.role})
            </option>
          ))}
        </select>
      </label>
      {orgs.isError ? <ErrorView error={orgs.error} title="Could not list your organizations" /> : null}
      {decide.isError ? <ErrorView error={decide.error} title="Could not record your decision" /> : null}
      <div className="row">
        <button type="submit" className="primary" disabled={decide.isPending}>
          Approve
        </button>
        <button type="button" className="danger" onClick={() => decide.mutate('deny')} disabled={decide.isPending}>
          Deny
        </button>
      </div>
    </form>
  );
}
