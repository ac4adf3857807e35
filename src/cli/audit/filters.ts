import type { Command } from 'commander';
import { positiveInt } from '../command.js';
import { CliError, EXIT } from '../exit-codes.js';

export interface FilterOptions {
  actor?: string;
  credential?: string;
  method?: string;
  path?: string;
  status?: number;
  since?: string;
  until?: string;
}

export interface AuditQuery {
  actor?: string;
  credential_id?: string;
  method?: string;
  path?: string;
  status?: number;
  since?: string;
  until?: string;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `2026-11-26T08:00:00Z` as given; `90s`, `15m`, `2h`, `7d` as that long ago. */
export function timeArg(name: string, value: string, now = Date.now()): string {
  const rel = /^(\d+)([smhd])$/.exec(value);
  if (rel) return new Date(now - Number(rel[1]) * UNITS[rel[2]!]!).toISOString();
  if (/^\d{4}-\d\d-\d\d/.test(value) && !Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  throw new CliError(`${name} must be an RFC 3339 time (2026-11-26T08:00:00Z) or a duration ago (15m, 2h, 7d)`, EXIT.USAGE);
}

function status(value: string): number {
  if (!/^\d{3}$/.test(value) || Number(value) < 100 || Number(value) > 599) throw new CliError('--status must be an HTTP status (100-599)', EXIT.USAGE);
  return Number(value);
}

/** The filters GET /audit and /audit/export share, declared once for list, tail and export. */
export function withFilters(cmd: Command): Command {
  return cmd
    .option('--actor <actor>', 'exactly this actor, e.g. org-token:mola_k7x9p2q4 or admin-token')
    .option('--credential <id>', 'exactly this credential id')
    .option('--method <method>', 'this HTTP method (GET, POST, …)')
    .option('--path <prefix>', 'paths starting with this, e.g. /org/tokens')
    .option('--status <code>', 'this response status', status)
    .option('--since <time>', 'at or after this time (RFC 3339, or 15m / 2h / 7d ago)')
    .option('--until <time>', 'before this time (RFC 3339, or 15m / 2h / 7d ago)');
}

export function auditQuery(o: FilterOptions): AuditQuery {
  const q: AuditQuery = {};
  if (o.actor) q.actor = o.actor;
  if (o.credential) q.credential_id = o.credential;
  if (o.method) q.method = o.method.toUpperCase();
  if (o.path) q.path = o.path;
  if (o.status !== undefined) q.status = o.status;
  if (o.since) q.since = timeArg('--since', o.since);
  if (o.until) q.until = timeArg('--until', o.until);
  return q;
}

export const limitOption = positiveInt('--limit');
