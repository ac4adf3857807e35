import { CommanderError } from 'commander';
import { ApiError, NetworkError } from '../sdk/client.js';

/**
 * The one exit-code table (pinned by exit-codes.test.ts). Scripts branch on these, so a number never changes meaning:
 * a CI job can tell "the key was revoked" (4) from "the workspace is gone" (6) from "try again later" (8).
 */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  CANCELLED: 2,
  USAGE: 3,
  UNAUTHENTICATED: 4,
  FORBIDDEN: 5,
  NOT_FOUND: 6,
  CONFLICT: 7,
  RATE_LIMITED: 8,
  SERVER: 9,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI itself detected, with the code to exit with and an error code for `--json`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.ERROR,
    readonly code: string = exitCode === EXIT.USAGE ? 'USAGE' : exitCode === EXIT.CANCELLED ? 'CANCELLED' : 'CLI_ERROR',
  ) {
    super(message);
  }
}

/** The exit code for an HTTP status the server answered with. */
export function exitCodeForStatus(status: number): ExitCode {
  if (status === 401) return EXIT.UNAUTHENTICATED;
  if (status === 403) return EXIT.FORBIDDEN;
  if (status === 404) return EXIT.NOT_FOUND;
  if (status === 409 || status === 412) return EXIT.CONFLICT;
  if (status === 429) return EXIT.RATE_LIMITED;
  if (status >= 500) return EXIT.SERVER;
  return EXIT.ERROR;
}

/** The exit code for anything a command threw. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof ApiError) return exitCodeForStatus(err.status);
  if (err instanceof NetworkError) return EXIT.SERVER;
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  return EXIT.ERROR;
}
