import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isReservedEnvName, withoutReservedNames } from './reserved-env.js';

describe('reserved environment names', () => {
  it('reserves the names that steer the runtime, the loader, the shell and the platform’s own variables', () => {
    for (const name of [
      'NODE_OPTIONS',
      'NODE_TLS_REJECT_UNAUTHORIZED',
      'NODE_EXTRA_CA_CERTS',
      'LD_PRELOAD',
      'LD_LIBRARY_PATH',
      'DYLD_INSERT_LIBRARIES',
      'PATH',
      'HOME',
      'SHELL',
      'ENV',
      'BASH_ENV',
      'TMPDIR',
      'MOLECULE_WORKSPACE_TOKEN',
      'MOLECULE_ANYTHING',
      'RUNTIME_COMMAND',
      'WORKSPACE_ID',
      'PLATFORM_URL',
      'HEARTBEAT_INTERVAL_SECONDS',
    ]) {
      assert.equal(isReservedEnvName(name), true, name);
    }
  });

  it('leaves ordinary secret names alone, including look-alikes that only contain a reserved word', () => {
    for (const name of ['OPENAI_API_KEY', 'API_KEY', 'MY_PATH', 'PATHS', 'HOMEPAGE', 'NODE', 'ENVIRONMENT', 'X_NODE_OPTIONS', 'RUNTIME', 'WORKSPACE_IDS', '_PATH']) {
      assert.equal(isReservedEnvName(name), false, name);
    }
  });

  it('drops reserved names from an environment and says which', () => {
    const { kept, dropped } = withoutReservedNames({ API_KEY: 'a', NODE_OPTIONS: '--require /tmp/x.js', RUNTIME_COMMAND: 'id', MODE: 'b' });
    assert.deepEqual(kept, { API_KEY: 'a', MODE: 'b' });
    assert.deepEqual(dropped, ['NODE_OPTIONS', 'RUNTIME_COMMAND']);
  });
});
