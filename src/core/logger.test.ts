import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from './logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, destination };
}

describe('logger', () => {
  it('redacts credentials wherever they appear', () => {
    const { lines, destination } = capture();
    const log = createLogger({ name: 't', destination });
    log.info(
      {
        req: { headers: { authorization: 'Bearer mola_secret', cookie: 'mcp_session=abc', 'x-molecule-admin-token': 'molt_x' } },
        body: { auth_token: 'mola_plaintext', password: 'hunter2', token: 'molw_y' },
        auth_token: 'mola_top',
      },
      'request',
    );
    const text = lines.join('');
    for (const secret of ['mola_secret', 'mcp_session=abc', 'molt_x', 'mola_plaintext', 'hunter2', 'molw_y', 'mola_top']) {
      assert.equal(text.includes(secret), false, `${secret} leaked: ${text}`);
    }
    assert.match(text, /\[redacted\]/);
  });

  it('turns Fastify’s listen message into one machine-readable line', () => {
    const { lines, destination } = capture();
    createLogger({ name: 't', destination }).info('Server listening at http://127.0.0.1:8080');
    const entry = JSON.parse(lines[0]!) as { msg: string; url: string };
    assert.deepEqual([entry.msg, entry.url], ['listening', 'http://127.0.0.1:8080']);
  });
});
