/**
 * Environment names the platform owns. A workspace secret becomes an environment variable of the agent command, so
 * a secret with one of these names could steer the machinery that starts the agent (`NODE_OPTIONS` loading code into
 * a Node process, `LD_PRELOAD`, `RUNTIME_COMMAND` choosing the command, `PATH`/`HOME`/`BASH_ENV` changing what a shell
 * runs) or impersonate the platform's own variables. They are refused when a secret is written and dropped when a
 * process is started (rows written before this rule existed). This is the one list; nothing else may keep another.
 */

/** Exact names. */
export const RESERVED_ENV_NAMES: readonly string[] = Object.freeze([
  'PATH',
  'HOME',
  'SHELL',
  'ENV',
  'BASH_ENV',
  'TMPDIR',
  'RUNTIME_COMMAND',
  'WORKSPACE_ID',
  'PLATFORM_URL',
  'NODE_TLS_REJECT_UNAUTHORIZED',
]);

/** Every name starting with one of these. */
export const RESERVED_ENV_PREFIXES: readonly string[] = Object.freeze(['NODE_', 'LD_', 'DYLD_', 'MOLECULE_', 'HEARTBEAT_']);

const exact = new Set(RESERVED_ENV_NAMES);

/** True when `name` belongs to the platform and may not be set by a secret. Case-sensitive, like the environment. */
export function isReservedEnvName(name: string): boolean {
  return exact.has(name) || RESERVED_ENV_PREFIXES.some((p) => name.startsWith(p));
}

/** The entries of `env` whose names are not reserved, and the names that were dropped (sorted). */
export function withoutReservedNames(env: Readonly<Record<string, string>>): { kept: Record<string, string>; dropped: string[] } {
  const kept = new Map<string, string>();
  const dropped: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (isReservedEnvName(k)) dropped.push(k);
    else kept.set(k, v);
  }
  return { kept: Object.fromEntries(kept), dropped: dropped.sort() };
}

/** One line for error details and docs. */
export function describeReservedEnvNames(): string {
  return `${RESERVED_ENV_NAMES.join(', ')} and names starting with ${RESERVED_ENV_PREFIXES.join(', ')}`;
}
