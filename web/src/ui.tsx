import { useState, type ReactNode } from 'react';
import { describeError } from './api';

export function ErrorView({ error, title = 'Something went wrong' }: { error: unknown; title?: string }) {
  const e = describeError(error);
  return (
    <div className="error" role="alert">
      <strong>{title}</strong>
      <p className="error-message">{e.message}</p>
      {e.requestId ? (
        <p className="muted">
          Request id: <code className="request-id">{e.requestId}</code>
        </p>
      ) : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function Page({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <main className="page" id="main">
      <div className="page-head">
        <h1>{title}</h1>
        {actions}
      </div>
      {children}
    </main>
  );
}

/**
 * A destructive action confirmed by typing a name (a key, a secret, a workspace, a template …): the submit button
 * stays disabled until the typed text matches exactly. The caller owns the mutation; `extra` goes above the error.
 */
export function TypedConfirm(props: {
  /** The form's accessible name, e.g. "Revoke ci-bot". */
  label: string;
  expected: string;
  inputLabel: string;
  submitLabel: string;
  busy: boolean;
  error: unknown;
  errorTitle: string;
  onConfirm: () => void;
  onCancel: () => void;
  /** What will happen: the paragraph above the input. */
  children: ReactNode;
  extra?: ReactNode;
}) {
  const [typed, setTyped] = useState('');
  return (
    <form
      className="card confirm"
      aria-label={props.label}
      onSubmit={(e) => {
        e.preventDefault();
        if (typed === props.expected) props.onConfirm();
      }}
    >
      <p>{props.children}</p>
      <label>
        {props.inputLabel}
        <input autoFocus value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" spellCheck={false} />
      </label>
      {props.extra}
      {props.error ? <ErrorView error={props.error} title={props.errorTitle} /> : null}
      <div className="row">
        <button type="submit" className="danger" disabled={typed !== props.expected || props.busy}>
          {props.submitLabel}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
