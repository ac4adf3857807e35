import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommanderError } from 'commander';
import { ApiError, NetworkError } from '../sdk/client.js';
import { CliError, EXIT, exitCodeFor, exitCodeForStatus } from './exit-codes.js';

describe('CLI exit codes', () => {
  it('the table is pinned: scripts branch on these numbers, so none ever changes meaning', () => {
    assert.deepEqual(EXIT, {
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
    });
  });

  it('maps HTTP statuses: 401→4, 403→5, 404→6, 409/412→7, 429→8, 5xx→9, any other 4xx→1', () => {
    const mapped = Object.fromEntries([400, 401, 402, 403, 404, 405, 409, 410, 412, 413, 422, 429, 500, 502, 503, 504].map((s) => [s, exitCodeForStatus(s)]));
    assert.deepEqual(mapped, { 400: 1, 401: 4, 402: 1, 403: 5, 404: 6, 405: 1, 409: 7, 410: 1, 412: 7, 413: 1, 422: 1, 429: 8, 500: 9, 502: 9, 503: 9, 504: 9 });
  });

  it('maps what a command throws: the CLI\'s own errors keep their code, API errors go by status, network → 9, usage → 3', () => {
    assert.equal(exitCodeFor(new CliError('x', EXIT.CONFLICT)), 7);
    assert.equal(exitCodeFor(new CliError('x')), 1);
    assert.equal(new CliError('x', EXIT.USAGE).code, 'USAGE');
    assert.equal(new CliError('x', EXIT.CANCELLED).code, 'CANCELLED');
    assert.equal(exitCodeFor(new ApiError(404, 'NOT_FOUND', 'workspace not found', 'req-1', null, 'GET', 'http://x/workspaces/1')), 6);
    assert.equal(exitCodeFor(new ApiError(403, 'ROLE_FORBIDDEN', 'no', null, null, 'POST', 'http://x/workspaces')), 5);
    assert.equal(exitCodeFor(new NetworkError('cannot reach', 'http://x')), 9);
    assert.equal(exitCodeFor(new CommanderError(1, 'commander.unknownOption', 'unknown option')), 3);
    assert.equal(exitCodeFor(new CommanderError(0, 'commander.helpDisplayed', '')), 0);
    assert.equal(exitCodeFor(new Error('boom')), 1);
  });
});
