import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { cp } from '../api';

/** One org as the signed-in user sees it: plan, credits, status and their own role. */
export function useOrg(slug: string) {
  return useQuery({ queryKey: ['org', slug], queryFn: async () => (await cp.GET('/api/v1/orgs/{slug}', { params: { path: { slug } } })).data! });
}

export function fmtTime(at: string | null | undefined): string {
  return at ? new Date(at).toLocaleString() : '—';
}

export function fmtMoney(cents: number, currency: string): string {
  return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency.toUpperCase() }).format(cents / 100);
}

/** A secret shown once, with a copy button and a spoken result. */
export function CopyOnce({ label, value, testId }: { label: string; value: string; testId?: string }) {
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <>
      <code className="token" data-testid={testId}>
        {value}
      </code>
      <div className="row">
        <button type="button" className="primary" onClick={copy}>
          {copied === 'yes' ? 'Copied' : label}
        </button>
        <span aria-live="polite" className="muted">
          {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'failed' ? 'Could not copy: select it and copy it by hand.' : ''}
        </span>
      </div>
    </>
  );
}
