import { Page } from '../ui';

/** Templates (issue 14): not yet built. */
export function TemplatesPage() {
  return (
    <Page title="Templates">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
