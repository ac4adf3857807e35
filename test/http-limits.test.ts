/**
 * Every connection is bounded, and the server's own refusals speak the one error body (issue 8, items 4 and 2).
 * Both services run as the real binary with short timeouts from their environment; raw sockets play the clients
 * a fetch() cannot: one that sends headers and half a body then stalls, one that never finishes its headers, one
 * that keeps an idle connection open. Proven for the tenant and the control plane:
 *  - a stalled body → 408 `REQUEST_TIMEOUT` in `{error, code, request_id}`, then the server closes the connection;
 *    a stalled header block → the same;
 *  - an idle keep-alive connection is closed after the keep-alive timeout;
 *  - a 20,000-character path segment or an oversized header → 431 `HEADERS_TOO_LARGE`; a path parameter over 200
 *    characters → 414 `URI_TOO_LONG`; a body over the limit → 413 `PAYLOAD_TOO_LARGE` — all in the one error body;
 *  - (tenant) an SSE stream stays open past the request timeout and still delivers events.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { mintCredential } from '../src/core/credentials/format.js';
import { ERROR_CODES } from '../src/core/errors.js';
import { newUuid } from '../src/core/ids.js';
import { createScratchDatabase } from './harness.js';
import { startBinary, type Child } from './support/binary.js';

/** Waits for the server are on events; this only bounds a broken run. */
const DEADLINE_MS = 20_000;
/** The short limits the binaries run with here. */
const LIMITS = { HTTP_REQUEST_TIMEOUT_SECONDS: '1', HTTP_HEADERS_TIMEOUT_SECONDS: '1', HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: '1' };

interface RawExchange {
  /** Everything the server sent before it closed the connection. */
  text: string;
  /** ms from the last byte we sent to the server closing the connection. */
  closedAfterMs: number;
}

/** Sends `chunks` on a fresh connection, then nothing more; resolves once the server closes it. */
async function rawExchange(url: string, chunks: string[]): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect({ host: hostname, port: Number(port) });
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (text += d));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  for (const c of chunks) socket.write(c);
  const sentAt = Date.now();
  return new Promise<RawExchange>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${DEADLINE_MS} ms; received so far:\n${text}`));
    }, DEADLINE_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - sentAt });
    });
    socket.on('error', () => undefined); // a reset after the answer is still a close
  });
}

/**
 * Sends a request head, then body chunks one at a time until the server answers (a server refusing a body answers
 * and closes before reading it all, so a client that kept writing would only see its own write fail); resolves
 * with the answer once it is complete or the connection closes.
 */
async function rawUploadUntilAnswered(url: string, head: string, chunks: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect({ host: hostname, port: Number(port) });
  let text = '';
  let closed = false;
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (text += d));
  socket.on('error', () => undefined); // writing after the server closed: expected
  socket.once('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const complete = () => closed || parseResponses(text).length > 0;
  const deadline = Date.now() + DEADLINE_MS;
  try {
    socket.write(head);
    for (const chunk of chunks) {
      if (text.length > 0 || closed) break;
      socket.write(chunk);
      // The next chunk only once this one is on its way.
      await new Promise((r) => setTimeout(r, 20));
    }
    while (!complete()) {
      if (Date.now() > deadline) throw new Error(`no complete answer within ${DEADLINE_MS} ms; received:\n${text}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return text;
  } finally {
    socket.destroy();
  }
}

interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The responses in a raw HTTP/1.1 byte stream (bodies by Content-Length). */
function parseResponses(text: string): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    const length = Number(headers['content-length'] ?? 0);
    out.push({ status: Number(statusLine!.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

/** The one error body with this code (and its status from the error table). */
function assertErrorBody(status: number, body: string, code: keyof typeof ERROR_CODES, context = '') {
  assert.equal(status, ERROR_CODES[code].status, `${context}: status (body ${body.slice(0, 300)})`);
  const parsed = JSON.parse(body) as Record<string, unknown>;
  assert.equal(parsed['code'], code, `${context}: code`);
  assert.equal(typeof parsed['error'], 'string', `${context}: error message`);
  assert.ok((parsed['error'] as string).length > 0);
  assert.match(String(parsed['request_id']), /^req_[0-9A-Z]{26}$/, `${context}: request_id`);
  assert.deepEqual(Object.keys(parsed).sort(), ['code', 'error', 'request_id'], `${context}: nothing but the one error body`);
}

interface Service {
  name: string;
  child: () => Child;
  /** A POST route with a JSON body, and headers that get it past auth and routing. */
  post: { path: string; headers: Record<string, string>; body: string };
  /** A route with a path parameter. */
  paramPath: (segment: string) => string;
  headers: Record<string, string>;
}

function headerLines(headers: Record<string, string>): string {
  return Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
}

function limitSuite(service: Service) {
  const host = () => new URL(service.child().url).host;

  it(`${service.name}: headers and half a body, then a stall → 408 REQUEST_TIMEOUT in the one error body, and the connection is closed`, async () => {
    const { path, headers, body } = service.post;
    const half = body.slice(0, Math.floor(body.length / 2));
    const head = `POST ${path} HTTP/1.1\r\nHost: ${host()}\r\n${headerLines({ ...headers, 'content-type': 'application/json', 'content-length': String(body.length) })}\r\n`;
    const exchange = await rawExchange(service.child().url, [head, half]);
    const responses = parseResponses(exchange.text);
    assert.equal(responses.length, 1, exchange.text);
    assertErrorBody(responses[0]!.status, responses[0]!.body, 'REQUEST_TIMEOUT', 'stalled body');
    assert.equal(responses[0]!.headers['connection'], 'close');
    assert.equal(responses[0]!.headers['x-request-id'], JSON.parse(responses[0]!.body).request_id);
  });

  it(`${service.name}: a header block that never ends → 408 REQUEST_TIMEOUT, and the connection is closed`, async () => {
    const exchange = await rawExchange(service.child().url, [`GET /health HTTP/1.1\r\nHost: ${host()}\r\nX-Slow: 1\r\n`]);
    const responses = parseResponses(exchange.text);
    assert.equal(responses.length, 1, exchange.text);
    assertErrorBody(responses[0]!.status, responses[0]!.body, 'REQUEST_TIMEOUT', 'stalled headers');
  });

  it(`${service.name}: bytes that are not HTTP → 400 VALIDATION_FAILED in the one error body, and the connection is closed`, async () => {
    const exchange = await rawExchange(service.child().url, ['HELLO THERE\r\n\r\n']);
    const responses = parseResponses(exchange.text);
    assert.equal(responses.length, 1, exchange.text);
    assertErrorBody(responses[0]!.status, responses[0]!.body, 'VALIDATION_FAILED', 'not HTTP');
    assert.equal(JSON.parse(responses[0]!.body).error, 'malformed HTTP request');
  });

  it(`${service.name}: an idle keep-alive connection is closed after the keep-alive timeout`, async () => {
    const exchange = await rawExchange(service.child().url, [`GET /health HTTP/1.1\r\nHost: ${host()}\r\nConnection: keep-alive\r\n\r\n`]);
    const responses = parseResponses(exchange.text);
    assert.equal(responses.length, 1, exchange.text);
    assert.equal(responses[0]!.status, 200);
    assert.equal(JSON.parse(responses[0]!.body).status, 'ok');
  });

  it(`${service.name}: a 20,000-character path segment and an oversized header → 431 HEADERS_TOO_LARGE in the one error body`, async () => {
    // Raw sockets: the server answers and closes before reading the rest of an oversized header block.
    const longPath = parseResponses(
      await rawUploadUntilAnswered(service.child().url, `GET ${service.paramPath('a'.repeat(20_000))} HTTP/1.1\r\nHost: ${host()}\r\n${headerLines(service.headers)}\r\n`, []),
    );
    assert.equal(longPath.length, 1);
    assertErrorBody(longPath[0]!.status, longPath[0]!.body, 'HEADERS_TOO_LARGE', 'long path');
    const bigHeader = parseResponses(await rawUploadUntilAnswered(service.child().url, `GET /health HTTP/1.1\r\nHost: ${host()}\r\nX-Padding: ${'b'.repeat(20_000)}\r\n\r\n`, []));
    assert.equal(bigHeader.length, 1);
    assertErrorBody(bigHeader[0]!.status, bigHeader[0]!.body, 'HEADERS_TOO_LARGE', 'big header');
  });

  it(`${service.name}: a path parameter over 200 characters → 414 URI_TOO_LONG in the one error body`, async () => {
    const res = await fetch(`${service.child().url}${service.paramPath('c'.repeat(300))}`, { headers: service.headers });
    const text = await res.text();
    assertErrorBody(res.status, text, 'URI_TOO_LONG', 'long parameter');
    assert.match(JSON.parse(text).error, /200/);
    assert.equal(res.headers.get('x-request-id'), JSON.parse(text).request_id);
  });

  it(`${service.name}: a body over the limit → 413 PAYLOAD_TOO_LARGE in the one error body (declared and chunked)`, async () => {
    const { path, headers } = service.post;
    const part = 'x'.repeat(512 * 1024);
    const parts = 4; // 2 MiB in all, twice the 1 MiB limit
    const start = (framing: Record<string, string>) =>
      `POST ${path} HTTP/1.1\r\nHost: ${host()}\r\n${headerLines({ ...headers, 'content-type': 'application/json', ...framing })}\r\n`;
    // Declared: refused from the Content-Length alone.
    const declared = parseResponses(await rawUploadUntilAnswered(service.child().url, start({ 'content-length': String(parts * part.length) }), Array(parts).fill(part)));
    assert.equal(declared.length, 1);
    assertErrorBody(declared[0]!.status, declared[0]!.body, 'PAYLOAD_TOO_LARGE', 'declared length');
    // Chunked: refused once the bytes received pass the limit.
    const chunk = `${part.length.toString(16)}\r\n${part}\r\n`;
    const chunked = parseResponses(await rawUploadUntilAnswered(service.child().url, start({ 'transfer-encoding': 'chunked' }), [...Array(parts).fill(chunk), '0\r\n\r\n']));
    assert.equal(chunked.length, 1);
    assertErrorBody(chunked[0]!.status, chunked[0]!.body, 'PAYLOAD_TOO_LARGE', 'chunked');
  });
}

describe('bounded connections and router errors: the tenant binary', () => {
  const adminToken = mintCredential('tenantAdminToken').plaintext;
  const orgId = newUuid();
  let child: Child;
  let drop: () => Promise<void>;

  before(async () => {
    const scratch = await createScratchDatabase();
    drop = () => scratch.drop();
    child = await startBinary('tenant', { ...LIMITS, DATABASE_URL: scratch.url, ADMIN_TOKEN: adminToken, MOLECULE_ORG_ID: orgId, WORKSPACE_PROVISIONER: 'none' });
  });
  after(async () => {
    if (child?.proc.exitCode === null) {
      child.proc.kill('SIGTERM');
      await child.exited;
    }
    await drop?.();
  });

  const headers = () => ({ authorization: `Bearer ${adminToken}`, 'x-molecule-org-id': orgId });
  limitSuite({
    name: 'tenant',
    child: () => child,
    post: {
      path: '/workspaces',
      get headers() {
        return headers();
      },
      body: JSON.stringify({ name: 'stalled-create', role: 'a role long enough to split in halves' }),
    },
    paramPath: (segment) => `/workspaces/${segment}`,
    get headers() {
      return headers();
    },
  });

  it('tenant: an SSE stream stays open past the request timeout and still delivers events', async () => {
    const controller = new AbortController();
    try {
      const res = await fetch(`${child.url}/events/stream`, { headers: headers(), signal: controller.signal });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let received = '';
      const opened = Date.now();
      // Three request timeouts (plus the server's check interval) pass with the stream open...
      const readUntil = async (pattern: RegExp) => {
        const deadline = Date.now() + DEADLINE_MS;
        while (!pattern.test(received)) {
          const next = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), Math.max(1, deadline - Date.now())))]);
          if (next === null) throw new Error(`no ${pattern} on the stream within ${DEADLINE_MS} ms; got:\n${received}`);
          if (next.done) throw new Error(`the stream ended; got:\n${received}`);
          received += next.value;
        }
      };
      await readUntil(/: ping/);
      await new Promise((r) => setTimeout(r, 3500));
      // ...then an event recorded now still arrives on it.
      const set = await fetch(`${child.url}/settings/secrets`, {
        method: 'PUT',
        headers: { ...headers(), 'content-type': 'application/json' },
        body: JSON.stringify({ key: 'SSE_PROBE', value: 'v' }),
      });
      assert.equal(set.status, 200);
      await readUntil(/event: SECRET_SET\n/);
      assert.ok(Date.now() - opened > 3000, 'the stream was open for more than three request timeouts');
      assert.match(received, /"key":"SSE_PROBE"/);
    } finally {
      controller.abort();
    }
  });
});

describe('bounded connections and router errors: the control plane binary', () => {
  let child: Child;
  let drop: () => Promise<void>;

  before(async () => {
    const scratch = await createScratchDatabase();
    drop = () => scratch.drop();
    child = await startBinary('cp', { ...LIMITS, DATABASE_URL: scratch.url, PASSWORD_HASH_COST: '10' });
  });
  after(async () => {
    if (child?.proc.exitCode === null) {
      child.proc.kill('SIGTERM');
      await child.exited;
    }
    await drop?.();
  });

  limitSuite({
    name: 'control plane',
    child: () => child,
    post: { path: '/api/v1/auth/signup', headers: {}, body: JSON.stringify({ email: 'stalled@example.com', password: 'a long enough password' }) },
    paramPath: (segment) => `/api/v1/orgs/${segment}/instance`,
    headers: {},
  });
});
