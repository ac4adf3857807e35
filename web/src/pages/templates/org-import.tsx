import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { tenant } from '../../api';
import { Empty, ErrorView, Loading } from '../../ui';
import { envLabel } from './env';

/**
 * Org templates and their import: pick one, see the dry-run plan (create/skip/remove per workspace and the
 * required-environment preflight) — always first — then Apply runs the real import and shows what it did.
 */

type Mode = 'merge' | 'reconcile';

/** The route answers the plan (200, dry run) or the result (201/207): one union in the SDK, split on `dry_run`. */
type Answer = NonNullable<Awaited<ReturnType<typeof postImport>>['data']>;
type Plan = Extract<Answer, { dry_run: true }>;
type Result = Exclude<Answer, Plan>;
const postImport = (dir: string, mode: Mode, dryRun: boolean) => tenant.POST('/org/import', { params: { query: { dry_run: dryRun } }, body: { dir, mode } });
const isPlan = (a: Answer): a is Plan => 'dry_run' in a;

async function planImport(dir: string, mode: Mode): Promise<Plan> {
  const { data } = await postImport(dir, mode, true);
  if (!data || !isPlan(data)) throw new Error('the server did not answer with a plan');
  return data;
}

async function applyImport(dir: string, mode: Mode): Promise<{ status: number; result: Result }> {
  const { data, response } = await postImport(dir, mode, false);
  if (!data || isPlan(data)) throw new Error('the server answered with a plan, not an import');
  return { status: response.status, result: data };
}
type Applied = Awaited<ReturnType<typeof applyImport>>;

function PlanView({ plan }: { plan: Plan }) {
  const { summary, preflight } = plan;
  return (
    <section className="card" aria-labelledby="org-plan-title">
      <h3 id="org-plan-title">
        Plan ({plan.mode}): {summary.create} to create, {summary.skip} to skip{plan.mode === 'reconcile' ? `, ${summary.remove} to remove` : ''}
      </h3>
      {summary.remove > 0 ? (
        <p className="warning" role="note">
          Reconcile removes {summary.remove} workspace{summary.remove === 1 ? '' : 's'} (with their subtrees and tokens) that the template no longer lists.
        </p>
      ) : null}
      {preflight.ok ? (
        <p className="muted">Required environment: {preflight.required_env.length > 0 ? `${preflight.required_env.map(envLabel).join('; ')} — all set.` : 'none.'}</p>
      ) : (
        <div className="error" role="alert">
          <strong>Missing org-wide secrets</strong>
          <p>
            Set {preflight.missing_env.map(envLabel).join('; ')} under Secrets (org-wide) before applying: the import is refused until then.
          </p>
        </div>
      )}
      {preflight.missing_recommended_env.length > 0 ? <p className="muted">Recommended, not set: {preflight.missing_recommended_env.map(envLabel).join('; ')}.</p> : null}
      {plan.plan.length === 0 ? <Empty>The template lists no workspace.</Empty> : null}
      {plan.plan.length > 0 ? (
        <div className="table-wrap">
          <table aria-label="Import plan">
            <thead>
              <tr>
                <th scope="col">Action</th>
                <th scope="col">Workspace</th>
                <th scope="col">Channels</th>
              </tr>
            </thead>
            <tbody>
              {plan.plan.map((p) => (
                <tr key={`${p.action}:${p.path}:${p.id ?? ''}`} className={`org-plan-${p.action}`}>
                  <td>
                    <span className={`badge org-action-${p.action}`}>{p.action}</span>
                  </td>
                  <td>
                    <code>{p.path}</code>
                  </td>
                  <td>{p.channels && p.channels.length > 0 ? p.channels.join(', ') : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function ResultView({ applied }: { applied: Applied }) {
  const { status, result } = applied;
  const created = result.workspaces.filter((w) => !w.skipped);
  const skipped = result.workspaces.filter((w) => w.skipped);
  const tokens = created.filter((w) => w.auth_token);
  return (
    <section className="card" aria-labelledby="org-result-title" role="status">
      <h3 id="org-result-title">
        Imported: {result.created_count} created, {result.skipped_count} skipped
        {result.reconcile_removed_count !== undefined ? `, ${result.reconcile_removed_count} removed` : ''}
      </h3>
      {status === 207 && result.error ? (
        <div className="error">
          <strong>Some workspaces did not start</strong>
          <p>{result.error}</p>
          <p className="muted">Their records were created: start them again from the workspace page.</p>
        </div>
      ) : null}
      <ul className="list org-result">
        {created.map((w) => (
          <li key={w.id}>
            <span className="badge org-action-create">created</span> <code>{w.path}</code> <span className="muted">{w.status}</span>
            {w.channels_skipped && w.channels_skipped.length > 0 ? (
              <span className="muted"> · channels not created (missing {w.channels_skipped.flatMap((c) => c.missing).join(', ')})</span>
            ) : null}
          </li>
        ))}
        {skipped.map((w) => (
          <li key={w.id}>
            <span className="badge org-action-skip">skipped</span> <code>{w.path}</code>
          </li>
        ))}
        {(result.removed ?? []).map((w) => (
          <li key={w.id}>
            <span className="badge org-action-remove">removed</span> <code>{w.path}</code>
          </li>
        ))}
      </ul>
      {tokens.length > 0 ? (
        <details>
          <summary>Workspace tokens of the new workspaces (shown once)</summary>
          <ul className="list">
            {tokens.map((w) => (
              <li key={w.id}>
                {w.path}: <code className="token">{w.auth_token}</code>
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </section>
  );
}

function ExportOrg() {
  const [yaml, setYaml] = useState<string | null>(null);
  const [href, setHref] = useState<string | null>(null);
  const exportIt = useMutation({
    mutationFn: async () => (await tenant.GET('/org/export', { params: { query: { format: 'yaml' } }, parseAs: 'text' })).data as unknown as string,
    onSuccess: (text) => {
      setYaml(text);
      // The previous URL is revoked by the effect below when this one replaces it.
      setHref(URL.createObjectURL(new Blob([text], { type: 'application/yaml' })));
    },
  });
  useEffect(() => () => void (href && URL.revokeObjectURL(href)), [href]);
  return (
    <section aria-labelledby="org-export-title">
      <h3 id="org-export-title">Export this org</h3>
      <div className="row">
        <button onClick={() => exportIt.mutate()} disabled={exportIt.isPending}>
          {exportIt.isPending ? 'Exporting…' : yaml ? 'Export again' : 'Export as YAML'}
        </button>
        {href ? (
          <a className="button" href={href} download="org.yaml">
            Download org.yaml
          </a>
        ) : null}
      </div>
      {exportIt.isError ? <ErrorView error={exportIt.error} title="Could not export the org" /> : null}
      {yaml !== null ? (
        <pre className="tpl-content" tabIndex={0} aria-label="Exported org template">
          {yaml}
        </pre>
      ) : null}
    </section>
  );
}

export function OrgImport() {
  const qc = useQueryClient();
  const orgTemplates = useQuery({ queryKey: ['org-templates'], queryFn: async () => (await tenant.GET('/org/templates')).data! });
  const [dir, setDir] = useState<string | null>(null);
  const [mode, setMode] = useState<Mode>('merge');
  const plan = useMutation({ mutationFn: () => planImport(dir!, mode) });
  const apply = useMutation({
    mutationFn: () => applyImport(dir!, mode),
    onSuccess: async () => {
      plan.reset();
      await qc.invalidateQueries({ queryKey: ['workspaces'] });
      await qc.invalidateQueries({ queryKey: ['templates'] });
    },
  });
  // A plan is for one template and one mode: changing either needs a new one before Apply.
  const choose = (next: { dir?: string; mode?: Mode }) => {
    if (next.dir !== undefined) setDir(next.dir);
    if (next.mode !== undefined) setMode(next.mode);
    plan.reset();
    apply.reset();
  };
  const chosen = orgTemplates.data?.find((t) => t.dir === dir);
  const canApply = plan.data && plan.data.preflight.ok && plan.data.summary.create + plan.data.summary.remove > 0;
  return (
    <section aria-labelledby="org-title" className="org-import">
      <h2 id="org-title">Org templates</h2>
      {orgTemplates.isPending ? <Loading what="org templates" /> : null}
      {orgTemplates.isError ? <ErrorView error={orgTemplates.error} title="Could not list org templates" /> : null}
      {orgTemplates.data && orgTemplates.data.length === 0 ? <Empty>No org template is available.</Empty> : null}
      {orgTemplates.data && orgTemplates.data.length > 0 ? (
        <form
          className="card"
          aria-label="Org import"
          onSubmit={(e) => {
            e.preventDefault();
            if (dir) {
              apply.reset();
              plan.mutate();
            }
          }}
        >
          <fieldset>
            <legend>Template</legend>
            {orgTemplates.data.map((t) => (
              <label key={t.dir} className="check org-choice">
                <input type="radio" name="org-template" checked={dir === t.dir} onChange={() => choose({ dir: t.dir })} />
                <span>
                  <strong>{t.name}</strong> <span className="muted">({t.dir}, {t.source}, {t.workspaces} workspaces)</span>
                  {t.description ? <span className="org-desc muted">{t.description}</span> : null}
                  {t.required_env.length > 0 ? <span className="org-desc muted">Needs: {t.required_env.map(envLabel).join('; ')}</span> : null}
                </span>
              </label>
            ))}
          </fieldset>
          <fieldset>
            <legend>Mode</legend>
            <label className="check">
              <input type="radio" name="org-mode" checked={mode === 'merge'} onChange={() => choose({ mode: 'merge' })} />
              Merge: create what is missing, keep everything else
            </label>
            <label className="check">
              <input type="radio" name="org-mode" checked={mode === 'reconcile'} onChange={() => choose({ mode: 'reconcile' })} />
              Reconcile: also remove workspaces the template no longer lists
            </label>
          </fieldset>
          <div className="row">
            <button type="submit" disabled={!dir || plan.isPending}>
              {plan.isPending ? 'Planning…' : plan.data ? 'Plan again' : 'Show the plan'}
            </button>
            {!dir ? <span className="muted">Choose a template to see its plan.</span> : null}
          </div>
        </form>
      ) : null}
      {plan.isError ? <ErrorView error={plan.error} title="Could not plan the import" /> : null}
      {plan.data ? <PlanView plan={plan.data} /> : null}
      {plan.data ? (
        <div className="row org-apply">
          <button className={plan.data.summary.remove > 0 ? 'danger' : 'primary'} disabled={!canApply || apply.isPending} onClick={() => apply.mutate()}>
            {apply.isPending ? 'Applying…' : `Apply${chosen ? ` ${chosen.name}` : ''} (${plan.data.mode})`}
          </button>
          {!canApply ? (
            <span className="muted">{plan.data.preflight.ok ? 'Nothing to change: everything in the template exists.' : 'Set the missing secrets first.'}</span>
          ) : null}
        </div>
      ) : null}
      {apply.isError ? <ErrorView error={apply.error} title="Could not import the org template" /> : null}
      {apply.data ? <ResultView applied={apply.data} /> : null}
      <ExportOrg />
    </section>
  );
}
