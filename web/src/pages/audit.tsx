import { Page } from '../ui';

/** Audit (issue 14): not yet built. */
export function AuditPage() {
  return (
    <Page title="Audit">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
