import { Page } from '../ui';

/** Approvals (issue 14): not yet built. */
export function ApprovalsPage() {
  return (
    <Page title="Approvals">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
