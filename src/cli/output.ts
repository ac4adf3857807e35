import { styleText } from 'node:util';
import Table from 'cli-table3';
import { ApiError, NetworkError } from '../sdk/client.js';
import { CliError, exitCodeFor } from './exit-codes.js';

/** A column of a human table: the header and how to read the cell from a row. */
export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

type Style = Parameters<typeof styleText>[0];

/**
 * The CLI's one output layer: a table (or key/value lines) for people, the server's JSON for scripts (`--json` or
 * `-o json` on every command; field names are the API's, so they are stable), colours only on a TTY without NO_COLOR.
 * Results go to stdout; progress, notes and errors go to stderr.
 */
export class Output {
  constructor(
    readonly json: boolean,
    readonly stdout: NodeJS.WriteStream = process.stdout,
    readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {}

  /** Colours are for a person at a terminal (https://no-color.org). */
  get color(): boolean {
    return Boolean(this.stdout.isTTY) && !process.env['NO_COLOR'] && process.env['TERM'] !== 'dumb';
  }

  get interactive(): boolean {
    return Boolean(process.stdin.isTTY && this.stderr.isTTY);
  }

  style(format: Style, text: string, stream: NodeJS.WriteStream = this.stdout): string {
    const colored = Boolean(stream.isTTY) && !process.env['NO_COLOR'] && process.env['TERM'] !== 'dumb';
    return colored ? styleText(format, text) : text;
  }

  /** A list: a table for people, the array for `--json`. */
  list<T>(rows: T[], columns: Column<T>[], empty = 'nothing to show'): void {
    if (this.json) return this.data(rows);
    if (rows.length === 0) {
      this.stderr.write(`${this.style('dim', empty, this.stderr)}\n`);
      return;
    }
    const table = new Table({
      head: columns.map((c) => this.style('bold', c.header)),
      style: { head: [], border: [] },
      chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ' },
    });
    for (const row of rows) table.push(columns.map((c) => cell(c.value(row))));
    this.stdout.write(`${table.toString().split('\n').map((l) => l.trimEnd()).join('\n')}\n`);
  }

  /** One record: aligned `key  value` lines for people, the object for `--json`. */
  record(value: Record<string, unknown>, fields?: Column<Record<string, unknown>>[]): void {
    if (this.json) return this.data(value);
    const entries = fields ? fields.map((f) => [f.header, f.value(value)] as const) : Object.entries(value);
    const width = Math.max(0, ...entries.map(([k]) => k.length));
    for (const [k, v] of entries) this.stdout.write(`${this.style('bold', k.padEnd(width))}  ${cell(v)}\n`);
  }

  /** Raw data: JSON under `--json`, pretty JSON otherwise (for `molecule api`). */
  data(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, this.json && !this.stdout.isTTY ? undefined : 2)}\n`);
  }

  /** A one-line confirmation of what was done (stderr under --json so stdout stays parseable). */
  success(message: string): void {
    const stream = this.json ? this.stderr : this.stdout;
    stream.write(`${this.style('green', '✓', stream)} ${message}\n`);
  }

  /** A note for the person (stderr). */
  note(message: string): void {
    this.stderr.write(`${message}\n`);
  }

  warn(message: string): void {
    this.stderr.write(`${this.style('yellow', '!', this.stderr)} ${message}\n`);
  }

  /** Prints a failure: the server's message and request id (the reference CLI printed nothing); JSON under --json. */
  error(err: unknown): void {
    const { code, message, requestId, status } = describeError(err);
    if (this.json) {
      this.stderr.write(`${JSON.stringify({ code, message, request_id: requestId, ...(status !== null ? { status } : {}), exit_code: exitCodeFor(err) })}\n`);
      return;
    }
    const where = requestId ? this.style('dim', ` (request ${requestId})`, this.stderr) : '';
    this.stderr.write(`${this.style('red', 'error:', this.stderr)} ${message}${status !== null ? ` [${status} ${code}]` : ''}${where}\n`);
    const hint = HINTS[code];
    if (hint) this.stderr.write(`${this.style('dim', `hint: ${hint}`, this.stderr)}\n`);
  }
}

/** What to do next, for server answers a CLI user can fix with another command. */
const HINTS: Record<string, string> = {
  TERMS_NOT_ACCEPTED: 'run `molecule auth terms --accept`, then try again',
  EMAIL_NOT_VERIFIED: 'open the verification link sent to your address (the CP log with MAIL_TRANSPORT=log), then try again',
};

export function describeError(err: unknown): { code: string; message: string; requestId: string | null; status: number | null } {
  if (err instanceof ApiError) return { code: err.code, message: err.message, requestId: err.requestId, status: err.status };
  if (err instanceof NetworkError) return { code: 'NETWORK_ERROR', message: err.message, requestId: null, status: null };
  if (err instanceof CliError) return { code: err.code, message: err.message, requestId: null, status: null };
  return { code: 'CLI_ERROR', message: err instanceof Error ? err.message : String(err), requestId: null, status: null };
}

/** A table cell: null as a dash, times as "3 min ago", arrays joined, objects as compact JSON. */
export function cell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(cell).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) return relativeTime(value);
  return String(value);
}

/** "just now", "5 min ago", "in 3 days" — the exact time stays in `--json`. */
export function relativeTime(iso: string, now = Date.now()): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const diff = at - now;
  const abs = Math.abs(diff);
  const units: [number, string][] = [
    [365 * 86_400_000, 'year'],
    [30 * 86_400_000, 'month'],
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'min'],
  ];
  if (abs < 45_000) return 'just now';
  for (const [ms, unit] of units) {
    if (abs >= ms) {
      const n = Math.round(abs / ms);
      const label = unit === 'min' ? 'min' : `${unit}${n === 1 ? '' : 's'}`;
      return diff < 0 ? `${n} ${label} ago` : `in ${n} ${label}`;
    }
  }
  return diff < 0 ? '1 min ago' : 'in 1 min';
}
