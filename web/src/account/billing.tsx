import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { cp } from '../api';
import { Link } from '../router';
import { Empty, ErrorView, Loading, Page } from '../ui';
import { fmtMoney, fmtTime, useOrg } from './shared';

/** The top-up bounds of the server's TopupCredits schema (src/control-plane/billing/plans.ts). */
const TOPUP_MIN = 100;
const TOPUP_MAX = 1_000_000;

/** The plan catalogue (public, the same for every org). */
function usePlans() {
  return useQuery({ queryKey: ['plans'], queryFn: async () => (await cp.GET('/api/v1/billing/plans')).data! });
}

/**
 * An org's billing: plan, credits, invoices; plan changes and top-ups through the API's session flow. The built-in
 * ledger backend completes a session when an org owner confirms it, which this page does in place
 * (POST /billing/sessions/:id/confirm) instead of sending the browser to the server's confirmation page.
 */
export function Billing({ slug }: { slug: string }) {
  const org = useOrg(slug);
  const role = org.data?.role;
  const manage = role === 'owner' || role === 'admin';
  const plans = usePlans();
  const invoices = useQuery({
    queryKey: ['invoices', slug],
    enabled: manage,
    queryFn: async () => (await cp.GET('/api/v1/billing/invoices', { params: { query: { org_slug: slug } } })).data!,
  });
  const [session, setSession] = useState<string | null>(null);
  const current = plans.data?.find((p) => p.id === org.data?.plan);
  return (
    <Page title={`Billing · ${slug}`} actions={<Link to={`/orgs/${slug}`}>← {slug}</Link>}>
      {org.isPending ? <Loading what="the organization" /> : null}
      {org.isError ? <ErrorView error={org.error} title="Could not read the organization" /> : null}
      {org.data ? (
        <section className="card" aria-labelledby="plan-title">
          <h2 id="plan-title">Plan and credits</h2>
          <dl className="facts">
            <dt>Plan</dt>
            <dd data-testid="plan">{current?.label ?? org.data.plan}</dd>
            <dt>Credits balance</dt>
            <dd data-testid="credits">{org.data.credits_balance.toLocaleString()}</dd>
            <dt>Monthly grant</dt>
            <dd>{org.data.plan_monthly_credits.toLocaleString()} credits</dd>
            <dt>Overage</dt>
            <dd>
              {org.data.overage_used_credits.toLocaleString()} of {org.data.overage_cap_credits.toLocaleString()} credits
            </dd>
          </dl>
          {!manage ? <p className="muted">Your role is {role}: only owners and admins change the plan or buy credits.</p> : null}
        </section>
      ) : null}
      {session ? <ConfirmSession slug={slug} id={session} owner={role === 'owner'} onClose={() => setSession(null)} /> : null}
      {manage && org.data && !session ? (
        <div className="two">
          <ChangePlan slug={slug} currentPlan={org.data.plan} plans={plans} onSession={setSession} />
          <TopUp slug={slug} onSession={setSession} />
        </div>
      ) : null}
      {manage ? (
        <section aria-labelledby="invoices-title">
          <h2 id="invoices-title">Invoices</h2>
          {invoices.isPending ? <Loading what="invoices" /> : null}
          {invoices.isError ? <ErrorView error={invoices.error} title="Could not list invoices" /> : null}
          {invoices.data && invoices.data.length === 0 ? <Empty>No invoices yet.</Empty> : null}
          {invoices.data && invoices.data.length > 0 ? (
            <div className="table-wrap">
              <table>
                <caption className="sr-only">Invoices of {slug}, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Number</th>
                    <th scope="col">Description</th>
                    <th scope="col">Amount</th>
                    <th scope="col">Status</th>
                    <th scope="col">Date</th>
                  </tr>
                </thead>
                <tbody>
                  {invoices.data.map((i) => (
                    <tr key={i.id}>
                      <td>
                        <code>{i.number}</code>
                      </td>
                      <td>{i.description}</td>
                      <td>{fmtMoney(i.amount_cents, i.currency)}</td>
                      <td>
                        <span className={`badge status-${i.status === 'paid' ? 'running' : i.status}`}>{i.status}</span>
                      </td>
                      <td>{fmtTime(i.paid_at ?? i.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </section>
      ) : null}
    </Page>
  );
}

type Plans = ReturnType<typeof usePlans>;

function ChangePlan({ slug, currentPlan, plans, onSession }: { slug: string; currentPlan: string; plans: Plans; onSession: (id: string) => void }) {
  const back = `${window.location.origin}/orgs/${slug}/billing`;
  const [plan, setPlan] = useState('');
  const paid = (plans.data ?? []).filter((p) => p.price_cents > 0 && p.id !== currentPlan);
  const checkout = useMutation({
    mutationFn: async () => (await cp.POST('/api/v1/billing/checkout', { body: { org_slug: slug, plan: plan as 'starter' | 'pro', success_url: back, cancel_url: back } })).data!,
    onSuccess: (s) => onSession(s.id),
  });
  return (
    <form
      className="card form"
      aria-labelledby="change-plan-title"
      onSubmit={(e) => {
        e.preventDefault();
        if (plan) checkout.mutate();
      }}
    >
      <h2 id="change-plan-title">Change plan</h2>
      {plans.isPending ? <Loading what="plans" /> : null}
      {plans.isError ? <ErrorView error={plans.error} title="Could not list the plans" /> : null}
      {plans.data ? (
        <fieldset>
          <legend>Plans</legend>
          {plans.data.map((p) => (
            <label key={p.id} className="choice">
              <input type="radio" name="plan" value={p.id} checked={plan === p.id} disabled={p.id === currentPlan || p.price_cents === 0} onChange={() => setPlan(p.id)} />
              <span>
                <strong>{p.label}</strong> — {fmtMoney(p.price_cents, p.currency)}/month, {p.monthly_credits.toLocaleString()} credits a month,{' '}
                {p.max_workspaces === null ? 'unlimited workspaces' : `${p.max_workspaces} workspaces`}
                {p.id === currentPlan ? ' (current)' : ''}
              </span>
            </label>
          ))}
        </fieldset>
      ) : null}
      {plans.data && paid.length === 0 ? <p className="muted">You are on the top plan.</p> : null}
      {checkout.isError ? <ErrorView error={checkout.error} title="Could not start the checkout" /> : null}
      <button type="submit" className="primary" disabled={!plan || checkout.isPending}>
        Continue to checkout
      </button>
    </form>
  );
}

function TopUp({ slug, onSession }: { slug: string; onSession: (id: string) => void }) {
  const [credits, setCredits] = useState('1000');
  const n = Number(credits);
  const problem = Number.isInteger(n) && n >= TOPUP_MIN && n <= TOPUP_MAX ? null : `A whole number of credits from ${TOPUP_MIN.toLocaleString()} to ${TOPUP_MAX.toLocaleString()}.`;
  const topup = useMutation({
    mutationFn: async () => (await cp.POST('/api/v1/billing/topup', { body: { org_slug: slug, credits: n } })).data!,
    onSuccess: (s) => onSession(s.id),
  });
  return (
    <form
      className="card form"
      aria-labelledby="topup-title"
      onSubmit={(e) => {
        e.preventDefault();
        if (!problem) topup.mutate();
      }}
    >
      <h2 id="topup-title">Top up credits</h2>
      <label>
        Credits to buy
        <input inputMode="numeric" value={credits} onChange={(e) => setCredits(e.target.value)} aria-invalid={problem !== null} aria-describedby="topup-help" />
      </label>
      <p id="topup-help" className={problem ? 'field-error' : 'muted'} aria-live="polite">
        {problem ?? 'One credit is 1,000 LLM tokens, at one cent each.'}
      </p>
      {topup.isError ? <ErrorView error={topup.error} title="Could not start the top-up" /> : null}
      <button type="submit" className="primary" disabled={problem !== null || topup.isPending}>
        Continue to payment
      </button>
    </form>
  );
}

/** A pending checkout or top-up: what confirming charges, and Confirm (owners) / Cancel. */
function ConfirmSession({ slug, id, owner, onClose }: { slug: string; id: string; owner: boolean; onClose: () => void }) {
  const qc = useQueryClient();
  const plans = usePlans();
  const session = useQuery({ queryKey: ['billing-session', id], queryFn: async () => (await cp.GET('/api/v1/billing/sessions/{id}', { params: { path: { id } } })).data! });
  const done = async () => {
    await Promise.all([qc.invalidateQueries({ queryKey: ['org', slug] }), qc.invalidateQueries({ queryKey: ['invoices', slug] }), qc.invalidateQueries({ queryKey: ['orgs'] })]);
    onClose();
  };
  const confirm = useMutation({
    mutationFn: async () => (await cp.POST('/api/v1/billing/sessions/{id}/confirm', { params: { path: { id } }, body: {} })).data!,
    onSuccess: done,
  });
  const cancel = useMutation({
    mutationFn: async () => (await cp.POST('/api/v1/billing/sessions/{id}/cancel', { params: { path: { id } }, body: {} })).data!,
    onSuccess: done,
  });
  const s = session.data;
  return (
    <section className="card" aria-labelledby="confirm-title">
      <h2 id="confirm-title">{s?.kind === 'topup' ? 'Confirm the top-up' : 'Confirm the plan change'}</h2>
      {session.isPending ? <Loading what="the billing session" /> : null}
      {session.isError ? <ErrorView error={session.error} title="Could not read the billing session" /> : null}
      {s ? (
        <>
          <p>
            {s.kind === 'topup' ? `${(s.credits ?? 0).toLocaleString()} credits` : `The ${plans.data?.find((p) => p.id === s.plan)?.label ?? s.plan} plan, with ${(s.credits ?? 0).toLocaleString()} credits a month`} for{' '}
            <strong>{s.amount_cents === null ? '—' : fmtMoney(s.amount_cents, s.currency)}</strong>. This platform’s built-in billing records the payment in its own ledger and
            writes a paid invoice.
          </p>
          <p className="muted">Expires {fmtTime(s.expires_at)}.</p>
          {!owner ? <p className="warning">Only an org owner can confirm a payment: ask an owner to open this page, or cancel.</p> : null}
          {confirm.isError ? <ErrorView error={confirm.error} title="Could not confirm" /> : null}
          {cancel.isError ? <ErrorView error={cancel.error} title="Could not cancel" /> : null}
          <div className="row">
            {owner ? (
              <button type="button" className="primary" onClick={() => confirm.mutate()} disabled={confirm.isPending || cancel.isPending || s.status !== 'pending'}>
                Confirm and pay
              </button>
            ) : null}
            <button type="button" onClick={() => cancel.mutate()} disabled={confirm.isPending || cancel.isPending || s.status !== 'pending'}>
              Cancel
            </button>
          </div>
        </>
      ) : null}
    </section>
  );
}
