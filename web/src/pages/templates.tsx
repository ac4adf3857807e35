import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { tenant } from '../api';
import { Link, useRouter } from '../router';
import { Empty, ErrorView, Loading, Page, TypedConfirm } from '../ui';
import { OrgImport } from './templates/org-import';
import { envLabel } from './templates/env';
import { TemplateImportForm } from './templates/import-form';
import './templates.css';

/**
 * Templates & org import (issue 14). `/app/templates`: the workspace templates (list, import from files, delete with
 * the typed name) and the org templates with their import (always the dry-run plan first, then Apply).
 * `/app/templates/<id>`: one workspace template and its files.
 */

type Template = NonNullable<Awaited<ReturnType<typeof listTemplates>>>[number];
async function listTemplates() {
  return (await tenant.GET('/templates')).data!;
}

function useTemplates() {
  return useQuery({ queryKey: ['templates'], queryFn: listTemplates });
}

function DeleteDialog({ template, onClose }: { template: Template; onClose: () => void }) {
  const qc = useQueryClient();
  const remove = useMutation({
    mutationFn: async () => (await tenant.DELETE('/templates/{id}', { params: { path: { id: template.id } } })).data!,
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['templates'] });
      onClose();
    },
  });
  return (
    <TypedConfirm
      label={`Delete ${template.name}`}
      expected={template.name}
      inputLabel="Template name"
      submitLabel="Delete template"
      busy={remove.isPending}
      error={remove.error}
      errorTitle="Could not delete the template"
      onConfirm={() => remove.mutate()}
      onCancel={onClose}
    >
      Deleting <strong>{template.name}</strong> (<code>{template.id}</code>) cannot be undone; a template a workspace uses is refused. Type its name to confirm.
    </TypedConfirm>
  );
}

function TemplateList() {
  const templates = useTemplates();
  const [deleting, setDeleting] = useState<Template | null>(null);
  return (
    <section aria-labelledby="tpl-list-title">
      <h2 id="tpl-list-title">Workspace templates</h2>
      {templates.isPending ? <Loading what="templates" /> : null}
      {templates.isError ? <ErrorView error={templates.error} title="Could not list templates" /> : null}
      {templates.data && templates.data.length === 0 ? <Empty>No templates yet. Import one below.</Empty> : null}
      {deleting ? <DeleteDialog key={deleting.id} template={deleting} onClose={() => setDeleting(null)} /> : null}
      {templates.data && templates.data.length > 0 ? (
        <div className="table-wrap">
          <table aria-labelledby="tpl-list-title">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" className="tpl-wide">Id</th>
                <th scope="col" className="tpl-wide">Tier</th>
                <th scope="col" className="tpl-wide">Runtime / model</th>
                <th scope="col">Needs</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {templates.data.map((t) => (
                <tr key={t.id}>
                  <td>
                    <Link to={`/app/templates/${encodeURIComponent(t.id)}`}>{t.name}</Link>
                    {t.description ? <div className="muted tpl-desc">{t.description}</div> : null}
                  </td>
                  <td className="tpl-wide">
                    <code>{t.id}</code>
                  </td>
                  <td className="tpl-wide">{t.tier}</td>
                  <td className="tpl-wide">{[t.runtime, t.model].filter(Boolean).join(' / ') || '—'}</td>
                  <td>{t.required_env && t.required_env.length > 0 ? t.required_env.map(envLabel).join('; ') : '—'}</td>
                  <td className="actions">
                    <button className="danger" onClick={() => setDeleting(t)} aria-label={`Delete ${t.name}`}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function fmtBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function TemplateView({ id }: { id: string }) {
  const [withContent, setWithContent] = useState(false);
  const one = useQuery({
    queryKey: ['template', id, withContent],
    queryFn: async () => (await tenant.GET('/templates/{id}', { params: { path: { id }, query: withContent ? { content: true } : {} } })).data!,
  });
  const t = one.data;
  return (
    <Page title={t ? `Template ${t.name}` : 'Template'} actions={<Link to="/app/templates">All templates</Link>}>
      {one.isPending ? <Loading what="the template" /> : null}
      {one.isError ? <ErrorView error={one.error} title={`Could not read template ${id}`} /> : null}
      {t ? (
        <>
          {t.description ? <p>{t.description}</p> : null}
          <dl className="tpl-facts card">
            <div>
              <dt>Id</dt>
              <dd>
                <code>{t.id}</code>
              </dd>
            </div>
            <div>
              <dt>Source</dt>
              <dd>{t.source === 'api' ? 'imported' : t.source}</dd>
            </div>
            <div>
              <dt>Version</dt>
              <dd>{t.version}</dd>
            </div>
            <div>
              <dt>Tier</dt>
              <dd>{t.tier}</dd>
            </div>
            <div>
              <dt>Runtime / model</dt>
              <dd>{[t.runtime, t.model].filter(Boolean).join(' / ') || '—'}</dd>
            </div>
            <div>
              <dt>Required environment</dt>
              <dd>{t.required_env && t.required_env.length > 0 ? t.required_env.map(envLabel).join('; ') : 'none'}</dd>
            </div>
            <div>
              <dt>Skills</dt>
              <dd>{t.skills.length > 0 ? t.skills.join(', ') : 'none'}</dd>
            </div>
            <div>
              <dt>Updated</dt>
              <dd>{new Date(t.updated_at).toLocaleString()}</dd>
            </div>
          </dl>
          <section aria-labelledby="tpl-files-title">
            <div className="row">
              <h2 id="tpl-files-title">Files</h2>
              <label className="check">
                <input type="checkbox" checked={withContent} onChange={(e) => setWithContent(e.target.checked)} />
                Show contents
              </label>
            </div>
            {t.files.length === 0 ? <Empty>No files.</Empty> : null}
            <ul className="list" aria-label="Template files">
              {t.files.map((f) => (
                <li key={f.path} className="card tpl-file">
                  <div className="row">
                    <code>{f.path}</code>
                    <span className="muted">
                      {fmtBytes(f.size)} · sha256 <code className="tpl-sha">{f.sha256.slice(0, 12)}…</code>
                    </span>
                  </div>
                  {f.content !== undefined ? (
                    <pre className="tpl-content" tabIndex={0} aria-label={`Contents of ${f.path}`}>
                      {f.content}
                    </pre>
                  ) : null}
                </li>
              ))}
            </ul>
          </section>
        </>
      ) : null}
    </Page>
  );
}

export function TemplatesPage() {
  const { path } = useRouter();
  const rest = path.replace(/^\/app\/templates\/?/, '');
  if (rest !== '') return <TemplateView id={decodeURIComponent(rest.split('/')[0]!)} />;
  return (
    <Page title="Templates">
      <p className="muted">Workspace templates are what a workspace runs; org templates describe a whole tree of workspaces to import into this org.</p>
      <TemplateList />
      <TemplateImportForm />
      <OrgImport />
    </Page>
  );
}
