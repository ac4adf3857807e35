import { Page } from '../ui';

/** Secrets (issue 14): not yet built. */
export function SecretsPage() {
  return (
    <Page title="Secrets">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
