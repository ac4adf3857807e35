import type { ReactNode } from 'react';
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
