import { Link } from '../router';
import { useWorkspaces } from '../queries';
import { Empty, ErrorView, Loading, Page } from '../ui';
import { ORG_SLUG } from '../api';

/** Workspaces: `/app/` lists them; `/app/workspaces/<id>` is one workspace. */
export function WorkspacesPage({ path: _path }: { path: string }) {
  const workspaces = useWorkspaces();
  return (
    <Page title={`${ORG_SLUG} console`}>
      <p className="muted">
        Press <kbd>Ctrl</kbd>+<kbd>,</kbd> (<kbd>⌘</kbd>+<kbd>,</kbd> on a Mac) or <Link to="/app/settings/keys">open Settings</Link> to manage Org API Keys.
      </p>
      <section aria-labelledby="ws-title">
        <h2 id="ws-title">Workspaces</h2>
        {workspaces.isPending ? <Loading what="workspaces" /> : null}
        {workspaces.isError ? <ErrorView error={workspaces.error} title="Could not list workspaces" /> : null}
        {workspaces.data && workspaces.data.length === 0 ? <Empty>No workspaces yet.</Empty> : null}
        {workspaces.data && workspaces.data.length > 0 ? (
          <ul className="list">
            {workspaces.data.map((w) => (
              <li key={w.id} className="card row">
                <strong>{w.name}</strong>
                <span className={`badge status-${w.status}`}>{w.status}</span>
              </li>
            ))}
          </ul>
        ) : null}
      </section>
    </Page>
  );
}

