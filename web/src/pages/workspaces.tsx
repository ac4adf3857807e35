import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ORG_SLUG, tenant } from '../api';
import { useWorkspaces } from '../queries';
import { Link } from '../router';
import { Empty, ErrorView, Loading, Page } from '../ui';
import { HeldForApproval, WorkspaceView } from './workspaces/detail';
import { LiveIndicator, useLiveEvents } from './workspaces/live';
import { fmt, pendingApproval, StatusBadge, withDetail, type PendingApproval, type Workspace } from './workspaces/status';
import './workspaces.css';

function useTemplates() {
  return useQuery({ queryKey: ['templates'], queryFn: async () => (await tenant.GET('/templates')).data! });
}

/** A created workspace's own token: the API shows it once. */
function CreatedNotice({ ws, token, onClose }: { ws: Workspace; token: string; onClose: () => void }) {
  return (
    <section className="card reveal" aria-labelledby="created-title">
      <h3 id="created-title">Created {ws.name}</h3>
      <p>
        Its status in the list changes by itself as it starts. <Link to={`/app/workspaces/${ws.id}`}>Open {ws.name}</Link>
      </p>
      <details>
        <summary>Its workspace token (shown once)</summary>
        <p className="muted">For an agent run outside the platform. Copy it now: it will not be shown again.</p>
        <code className="token">{token}</code>
      </details>
      <button onClick={onClose}>Dismiss</button>
    </section>
  );
}

/** The select's value for "no template" (the empty value is the unpicked placeholder). */
const NO_TEMPLATE = '-';

function CreateForm() {
  const qc = useQueryClient();
  const templates = useTemplates();
  const [name, setName] = useState('');
  const [picked, setPicked] = useState<string | null>(null);
  const [tier, setTier] = useState('');
  const [model, setModel] = useState('');
  const [role, setRole] = useState('');
  const [created, setCreated] = useState<{ ws: Workspace; token: string } | null>(null);
  const [held, setHeld] = useState<PendingApproval | null>(null);
  const template = picked ?? '';
  const chosen = templates.data?.find((t) => t.id === template);
  const create = useMutation({
    mutationFn: async () =>
      (
        await tenant.POST('/workspaces', {
          body: {
            name,
            ...(template && template !== NO_TEMPLATE ? { template } : {}),
            ...(tier ? { tier: Number(tier) } : {}),
            ...(model.trim() ? { model: model.trim() } : {}),
            ...(role.trim() ? { role: role.trim() } : {}),
          },
        })
      ).data!,
    onSuccess: async (data) => {
      setCreated(null);
      setHeld(null);
      const pending = pendingApproval(data);
      if (pending) {
        setHeld(pending);
        return;
      }
      const { auth_token: token, token_id: _tokenId, ...ws } = data;
      // The new row shows at once, in `provisioning`; the event stream moves it on from there.
      qc.setQueryData<Workspace[]>(['workspaces'], (list) => (list && !list.some((w) => w.id === ws.id) ? [...list, ws] : list));
      setCreated({ ws, token });
      setName('');
      await qc.invalidateQueries({ queryKey: ['workspaces'] });
    },
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const models = (chosen?.models ?? []).filter((m): m is string => typeof m === 'string');
  return (
    <div className="ws-side">
      {created ? <CreatedNotice ws={created.ws} token={created.token} onClose={() => setCreated(null)} /> : null}
      <form className="card form" onSubmit={onSubmit} aria-labelledby="create-title">
        <h2 id="create-title">New workspace</h2>
        <label>
          Name
          <input required value={name} onChange={(e) => setName(e.target.value)} maxLength={255} autoComplete="off" />
        </label>
        <div className="field">
          <label htmlFor="ws-template">Template</label>
          <select id="ws-template" required value={template} onChange={(e) => setPicked(e.target.value)} disabled={!templates.data} aria-describedby="template-help">
          <option value="" disabled>
            Choose a template
          </option>
          {templates.data?.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name} ({t.id})
            </option>
          ))}
          <option value={NO_TEMPLATE}>none (runtime defaults)</option>
          </select>
          <p id="template-help" className="muted help">
            {templates.isPending ? 'Loading templates…' : chosen ? chosen.description || 'No description.' : template === NO_TEMPLATE ? 'No template: the workspace starts with the runtime’s defaults.' : 'Built-in, directory and imported templates (see Templates).'}
          </p>
        </div>
        {templates.isError ? <ErrorView error={templates.error} title="Could not list templates" /> : null}
        <div className="two">
          <div className="field">
            <label htmlFor="ws-tier">Isolation tier</label>
            <select id="ws-tier" value={tier} onChange={(e) => setTier(e.target.value)}>
              <option value="">{chosen ? `template default (${chosen.tier})` : 'default (3)'}</option>
              {[1, 2, 3, 4].map((n) => (
                <option key={n} value={n}>
                  tier {n}
                </option>
              ))}
            </select>
          </div>
          <label>
            Model (optional)
            <input value={model} onChange={(e) => setModel(e.target.value)} placeholder={chosen?.model || 'template default'} list="model-options" maxLength={100} autoComplete="off" />
          </label>
        </div>
        {models.length > 0 ? (
          <datalist id="model-options">
            {models.map((m) => (
              <option key={m} value={m} />
            ))}
          </datalist>
        ) : null}
        <label>
          Role (optional)
          <input value={role} onChange={(e) => setRole(e.target.value)} maxLength={1000} autoComplete="off" />
        </label>
        {create.isError ? <ErrorView error={withDetail(create.error)} title="Could not create the workspace" /> : null}
        {held ? <HeldForApproval held={held} what="Creating the workspace" /> : null}
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create workspace'}
        </button>
      </form>
    </div>
  );
}

function WorkspaceList() {
  const workspaces = useWorkspaces();
  const live = useLiveEvents();
  return (
    <Page title={`${ORG_SLUG} console`}>
      <p className="muted">
        Press <kbd>Ctrl</kbd>+<kbd>,</kbd> (<kbd>⌘</kbd>+<kbd>,</kbd> on a Mac) or <Link to="/app/settings/keys">open Settings</Link> to manage Org API Keys.
      </p>
      <div className="ws-layout">
        <section aria-labelledby="ws-title" className="ws-list">
          <div className="row">
            <h2 id="ws-title">Workspaces</h2>
            <LiveIndicator {...live} />
          </div>
          {workspaces.isPending ? <Loading what="workspaces" /> : null}
          {workspaces.isError ? <ErrorView error={workspaces.error} title="Could not list workspaces" /> : null}
          {workspaces.data && workspaces.data.length === 0 ? <Empty>No workspaces yet. Create one from a template.</Empty> : null}
          {workspaces.data && workspaces.data.length > 0 ? (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Status</th>
                    <th scope="col">Template</th>
                    <th scope="col" className="wide-only">
                      Model
                    </th>
                    <th scope="col" className="wide-only">
                      Updated
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {workspaces.data.map((w) => (
                    <tr key={w.id}>
                      <td>
                        <Link to={`/app/workspaces/${w.id}`}>{w.name}</Link>
                      </td>
                      <td>
                        <StatusBadge status={w.status} />
                      </td>
                      <td>{w.template ?? <span className="muted">—</span>}</td>
                      <td className="wide-only">{w.model ?? <span className="muted">—</span>}</td>
                      <td className="wide-only">{fmt(w.updated_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </section>
        <CreateForm />
      </div>
    </Page>
  );
}

const ONE = /^\/app\/workspaces\/([0-9a-fA-F-]{36})\/?$/;

/** Workspaces: `/app/` lists them (live) with the create form; `/app/workspaces/<id>` is one workspace. */
export function WorkspacesPage({ path }: { path: string }) {
  const id = ONE.exec(path)?.[1];
  return id ? <WorkspaceView key={id} id={id.toLowerCase()} /> : <WorkspaceList />;
}
