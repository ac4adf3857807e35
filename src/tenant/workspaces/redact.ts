/** Values shorter than this are left alone: redacting "1" or "yes" would blank out the logs, not protect anything. */
export const MIN_REDACTED_LENGTH = 4;
export const REDACTED = '[redacted]';

/**
 * Anything shaped like a platform credential (`mola_`, `molw_`, `molt_`, `mols_`, `moli_`, `mol_pk_live_` + a
 * body): a workspace's instance token is in its environment, and no credential belongs in a log.
 */
const CREDENTIAL_SHAPE = /\bmol(?:[awtsi]|_pk_live)_[0-9A-Za-z]{16,}/g;

/**
 * A redactor for one workspace's output: every exact occurrence of each secret value (≥ 4 characters), also in its
 * JSON-escaped spelling (runtimes log JSON lines), and every credential-shaped string become `[redacted]`.
 * Longest values first, so a value containing another is redacted whole.
 */
export function secretRedactor(values: Iterable<string>): (text: string) => string {
  const needles = new Set<string>();
  for (const value of values) {
    if (value.length < MIN_REDACTED_LENGTH) continue;
    needles.add(value);
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value) needles.add(escaped);
  }
  const ordered = [...needles].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const needle of ordered) if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    return out.replace(CREDENTIAL_SHAPE, REDACTED);
  };
}
