import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type FormEvent } from 'react';
import { tenant } from '../api';
import { useWorkspaces } from '../queries';
import { Link } from '../router';
import { Empty, ErrorView, Loading, Page, TypedConfirm } from '../ui';
import './secrets/secrets.css';

/** `global`: the org-wide secrets; otherwise a workspace id. */
type Scope = 'global' | string;

interface SecretRow {
  key: string;
  scope: 'global' | 'workspace';
  created_at: string;
  updated_at: string;
}

/** What a write answers: saved, or held by the approval gate until another principal approves it. */
type WriteResult = { status: 'saved'; key: string } | { status: 'pending_approval'; approval_id: string; action: string; reason: string };

/** Same rule as the server's secret key schema (src/tenant/secrets/schemas.ts). */
const KEY_PATTERN = '[A-Z_][A-Z0-9_]*';
const KEY_RULE = 'An environment variable name: A–Z, 0–9 and _, not starting with a digit (at most 128 characters).';

function fmt(at: string): string {
  return new Date(at).toLocaleString();
}

async function listSecrets(scope: Scope): Promise<SecretRow[]> {
  if (scope === 'global') return (await tenant.GET('/settings/secrets')).data!;
  return (await tenant.GET('/workspaces/{id}/secrets', { params: { path: { id: scope } } })).data!;
}

async function writeSecret(scope: Scope, key: string, value: string, replace: boolean): Promise<WriteResult> {
  const body = { key, value };
  if (scope === 'global') {
    const { data } = replace ? await tenant.PUT('/settings/secrets', { body }) : await tenant.POST('/settings/secrets', { body });
    return data!;
  }
  const params = { path: { id: scope } };
  const { data } = replace ? await tenant.PUT('/workspaces/{id}/secrets', { params, body }) : await tenant.POST('/workspaces/{id}/secrets', { params, body });
  return data!;
}

async function deleteSecret(scope: Scope, key: string): Promise<void> {
  if (scope === 'global') await tenant.DELETE('/settings/secrets/{key}', { params: { path: { key } } });
  else await tenant.DELETE('/workspaces/{id}/secrets/{key}', { params: { path: { id: scope, key } } });
}

/** The outcome of the last write, announced politely; a held write names its approval and where to decide it. */
function WriteOutcome({ result }: { result: WriteResult }) {
  if (result.status === 'saved') {
    return (
      <p className="muted">
        Saved <code>{result.key}</code>. The value is not shown again.
      </p>
    );
  }
  return (
    <div className="warning secrets-pending">
      <strong>Waiting for approval.</strong> This write is held by the approval gate ({result.reason}) as approval <code className="approval-id">{result.approval_id}</code>.
      Nothing is saved until another principal approves it on the <Link to="/app/approvals">Approvals page</Link>.
    </div>
  );
}

/**
 * Set a new secret, or replace one (`replacing` fixes the key). The value is an uncontrolled password field: it never
 * sits in React state or in a `value` attribute, and is cleared once the server has taken it.
 */
function SetSecretForm({ scope, replacing, onDone, onResult }: { scope: Scope; replacing: string | null; onDone: () => void; onResult: (r: WriteResult) => void }) {
  const qc = useQueryClient();
  const [key, setKey] = useState('');
  const valueRef = useRef<HTMLInputElement>(null);
  const effectiveKey = replacing ?? key;
  const save = useMutation({
    mutationFn: (value: string) => writeSecret(scope, effectiveKey, value, replacing !== null),
    onSuccess: async (result) => {
      if (valueRef.current) valueRef.current.value = '';
      onResult(result);
      if (result.status === 'saved') {
        setKey('');
        if (replacing) onDone();
      }
      await qc.invalidateQueries({ queryKey: ['secrets', scope] });
    },
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    save.reset();
    save.mutate(valueRef.current?.value ?? '');
  };
  const title = replacing ? `Replace ${replacing}` : 'New secret';
  return (
    <form className="card form" onSubmit={onSubmit} aria-labelledby="secret-form-title" autoComplete="off">
      <h2 id="secret-form-title">{title}</h2>
      {replacing ? null : (
        <label>
          Key
          <input
            required
            value={key}
            onChange={(e) => setKey(e.target.value.toUpperCase())}
            pattern={KEY_PATTERN}
            maxLength={128}
            spellCheck={false}
            aria-describedby="secret-key-rule"
          />
        </label>
      )}
      {replacing ? null : (
        <p id="secret-key-rule" className="muted secrets-hint">
          {KEY_RULE}
        </p>
      )}
      <label>
        Value
        <input ref={valueRef} type="password" required autoFocus={replacing !== null} maxLength={65536} autoComplete="new-password" spellCheck={false} aria-describedby="secret-value-rule" />
      </label>
      <p id="secret-value-rule" className="muted secrets-hint">
        Write-only: it is stored encrypted and never shown again, here or by the API.
      </p>
      {save.isError ? <ErrorView error={save.error} title={replacing ? `Could not replace ${replacing}` : 'Could not save the secret'} /> : null}
      <div className="row">
        <button type="submit" className="primary" disabled={save.isPending}>
          {save.isPending ? 'Saving…' : replacing ? 'Replace value' : 'Save secret'}
        </button>
        {replacing ? (
          <button type="button" onClick={onDone}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}

function DeleteDialog({ scope, secret, onClose, onDeleted }: { scope: Scope; secret: string; onClose: () => void; onDeleted: () => void }) {
  const qc = useQueryClient();
  const remove = useMutation({
    mutationFn: () => deleteSecret(scope, secret),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['secrets', scope] });
      onDeleted();
    },
  });
  return (
    <TypedConfirm
      label={`Delete ${secret}`}
      expected={secret}
      inputLabel="Key to delete"
      submitLabel="Delete secret"
      busy={remove.isPending}
      error={remove.error}
      errorTitle={`Could not delete ${secret}`}
      onConfirm={() => remove.mutate()}
      onCancel={onClose}
    >
      Deleting <strong>{secret}</strong> restarts {scope === 'global' ? 'every running workspace without a value of its own for it' : 'this workspace'}. Type the key to
      confirm.
    </TypedConfirm>
  );
}

function SecretTable({ scope }: { scope: Scope }) {
  const secrets = useQuery({ queryKey: ['secrets', scope], queryFn: () => listSecrets(scope) });
  const [acting, setActing] = useState<{ kind: 'replace' | 'delete'; key: string } | null>(null);
  // What the last action did, announced politely; kept here so it outlives the form it came from.
  const [outcome, setOutcome] = useState<WriteResult | { status: 'deleted'; key: string } | null>(null);
  const replacing = acting?.kind === 'replace' ? acting.key : null;
  const act = (kind: 'replace' | 'delete', key: string) => {
    setOutcome(null);
    setActing({ kind, key });
  };
  // When a dialog or the replace form closes, keyboard focus goes back to the list rather than to the page's top.
  const heading = useRef<HTMLHeadingElement>(null);
  const done = () => {
    setActing(null);
    heading.current?.focus();
  };
  return (
    <>
      <SetSecretForm key={replacing ?? ''} scope={scope} replacing={replacing} onDone={done} onResult={setOutcome} />
      <div aria-live="polite" className="secrets-outcome">
        {outcome?.status === 'deleted' ? (
          <p className="muted">
            Deleted <code>{outcome.key}</code>.
          </p>
        ) : outcome ? (
          <WriteOutcome result={outcome} />
        ) : null}
      </div>
      <section aria-labelledby="secrets-title">
        <h2 id="secrets-title" ref={heading} tabIndex={-1}>{scope === 'global' ? 'Org-wide secrets' : 'Workspace secrets'}</h2>
        <p className="muted">Key names only: values are write-only.{scope === 'global' ? '' : ' A workspace value shadows the org-wide one of the same key.'}</p>
        {secrets.isPending ? <Loading what="secrets" /> : null}
        {secrets.isError ? <ErrorView error={secrets.error} title="Could not list secrets" /> : null}
        {secrets.data && secrets.data.length === 0 ? <Empty>No secrets yet. Add one above.</Empty> : null}
        {acting?.kind === 'delete' ? (
          <DeleteDialog
            scope={scope}
            secret={acting.key}
            onClose={done}
            onDeleted={() => {
              setOutcome({ status: 'deleted', key: acting.key });
              done();
            }}
          />
        ) : null}
        {secrets.data && secrets.data.length > 0 ? (
          <div className="table-wrap">
            <table className="secrets-table">
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col" className="secrets-value">
                    Value
                  </th>
                  {scope === 'global' ? null : <th scope="col">From</th>}
                  <th scope="col" className="secrets-created">
                    Created
                  </th>
                  <th scope="col">Updated</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {secrets.data.map((s) => {
                  const own = scope === 'global' || s.scope === 'workspace';
                  return (
                    <tr key={s.key}>
                      <td>
                        <code>{s.key}</code>
                      </td>
                      <td className="muted secrets-value">set (hidden)</td>
                      {scope === 'global' ? null : <td>{own ? 'this workspace' : 'org-wide'}</td>}
                      <td className="secrets-created">{fmt(s.created_at)}</td>
                      <td>{fmt(s.updated_at)}</td>
                      <td className="actions">
                        {own ? (
                          <>
                            <button onClick={() => act('replace', s.key)} aria-label={`Replace ${s.key}`}>
                              Replace
                            </button>
                            <button className="danger" onClick={() => act('delete', s.key)} aria-label={`Delete ${s.key}`}>
                              Delete
                            </button>
                          </>
                        ) : (
                          <span className="muted">inherited</span>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
    </>
  );
}

/** Secrets: the org-wide ones, or one workspace's (its own, and the org-wide ones it inherits). */
export function SecretsPage() {
  const workspaces = useWorkspaces();
  const [scope, setScope] = useState<Scope>('global');
  return (
    <Page title="Secrets">
      <div className="row secrets-scope">
        <label className="inline">
          Scope
          <select value={scope} onChange={(e) => setScope(e.target.value)} disabled={workspaces.isPending}>
            <option value="global">Org-wide (every workspace)</option>
            {workspaces.data?.map((w) => (
              <option key={w.id} value={w.id}>
                Workspace: {w.name}
              </option>
            ))}
          </select>
        </label>
        {workspaces.isPending ? <Loading what="workspaces" /> : null}
      </div>
      {workspaces.isError ? <ErrorView error={workspaces.error} title="Could not list workspaces (org-wide secrets still work)" /> : null}
      <SecretTable key={scope} scope={scope} />
    </Page>
  );
}
