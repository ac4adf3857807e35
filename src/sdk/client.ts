/**
 * The hand-written layer over the generated clients: credentials, the org routing headers, retries on 429/503
 * honouring Retry-After (POSTs carry an Idempotency-Key, so a retried create happens once), and typed errors that
 * carry the server's `code` and `request_id`. Everything about routes, fields and bodies comes from the generated
 * `paths` types (src/sdk/generated/, written from the committed OpenAPI snapshots) — nothing here names a route.
 *
 * This file is isomorphic (Node and the browser); `./index.ts` adds Node's loopback resolution of `*.localhost`.
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { paths as ControlPlanePaths } from './generated/control-plane.js';
import type { paths as TenantPaths } from './generated/tenant.js';

export type { ControlPlanePaths, TenantPaths };
export type TenantClient = Client<TenantPaths>;
export type ControlPlaneClient = Client<ControlPlanePaths>;

/**
 * Who is calling. Bearer credentials (an org API key, a workspace token, a partner key, an admin token) go in the
 * Authorization header; a session goes in the `mcp_session` cookie, as a browser would send it.
 */
export type Credential =
  | { type: 'org-key' | 'workspace-token' | 'partner-key' | 'admin-token'; token: string }
  | { type: 'session'; token: string };

export interface RetryOptions {
  /** Further attempts after the first (default 3). 0 turns retrying off. */
  retries?: number;
  /** The longest wait between attempts, whatever Retry-After says (default 30 s). */
  maxDelayMs?: number;
  /** The wait when the server names none, doubled each attempt (default 250 ms). */
  baseDelayMs?: number;
}

export interface ClientOptions {
  /** The service's base URL, e.g. `http://acme.localhost:8080` (a tenant through the edge) or `http://localhost:8080`. */
  baseUrl: string;
  credential?: Credential;
  /** Tenant only: sent as X-Molecule-Org-Id (TenantGuard routes on it). */
  orgId?: string;
  /** Tenant only: sent as X-Molecule-Org-Slug when no org id is known. */
  orgSlug?: string;
  retry?: RetryOptions;
  /** Extra headers on every request (e.g. a User-Agent naming the tool). */
  headers?: Record<string, string>;
  /** The fetch to use (default: globalThis.fetch). */
  fetch?: (request: Request) => Promise<Response>;
  /** Called before each wait, e.g. to tell the user a rate limit is being waited out. */
  onRetry?: (info: { attempt: number; delayMs: number; status: number | null; reason: string }) => void;
}

/** What a failed call throws: the server's error body, typed. `code` is the platform's closed error code. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null,
    /** The parsed body (the error envelope plus any context fields, e.g. `approval_id`), or the raw text. */
    readonly body: unknown,
    readonly method: string,
    readonly url: string,
  ) {
    super(message);
  }
}

/** The server could not be reached (refused, reset, DNS) after the retries allowed. */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
  constructor(message: string, readonly url: string, override readonly cause?: unknown) {
    super(message);
  }
}

const RETRY_STATUSES = new Set([429, 503]);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function randomId(): string {
  return globalThis.crypto.randomUUID();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * 409 IDEMPOTENCY_KEY_IN_USE: an earlier attempt with the same Idempotency-Key is still being handled (its answer was
 * lost, or it is slow). Waiting and repeating gets that attempt's stored response once it is done.
 */
async function stillInFlight(response: Response): Promise<boolean> {
  if (response.status !== 409) return false;
  try {
    return ((await response.clone().json()) as { code?: unknown }).code === 'IDEMPOTENCY_KEY_IN_USE';
  } catch {
    return false;
  }
}

/**
 * A fetch that retries 429/503 (and, for requests safe to repeat, network failures). A POST is repeated only with an
 * Idempotency-Key, which this layer adds when the caller has not, so the server answers a repeat with the first
 * response instead of acting twice.
 */
export function retryingFetch(inner: (request: Request) => Promise<Response>, options: ClientOptions): (request: Request) => Promise<Response> {
  const retries = options.retry?.retries ?? 3;
  const maxDelay = options.retry?.maxDelayMs ?? 30_000;
  const base = options.retry?.baseDelayMs ?? 250;
  return async (request) => {
    const method = request.method.toUpperCase();
    if (method === 'POST' && !request.headers.has('idempotency-key')) request.headers.set('idempotency-key', randomId());
    const repeatable = SAFE_METHODS.has(method) || request.headers.has('idempotency-key');
    // The body is read once so that each attempt can send it again.
    const body = request.body === null ? null : await request.arrayBuffer();
    for (let attempt = 0; ; attempt++) {
      const init: RequestInit = { method, headers: request.headers, body, signal: request.signal, redirect: request.redirect };
      let response: Response | null = null;
      let failure: unknown = null;
      try {
        response = await inner(new Request(request.url, init));
      } catch (err) {
        if (request.signal?.aborted) throw err;
        failure = err;
      }
      const retryable = response ? (RETRY_STATUSES.has(response.status) && repeatable) || (await stillInFlight(response)) : repeatable;
      if (attempt >= retries || !retryable) {
        if (response) return response;
        const reason = failure instanceof Error ? (failure.cause instanceof Error ? failure.cause.message : failure.message) : String(failure);
        throw new NetworkError(`cannot reach ${new URL(request.url).origin}: ${reason}`, request.url, failure);
      }
      const named = response ? retryAfterMs(response.headers.get('retry-after')) : null;
      const delayMs = Math.min(maxDelay, named ?? base * 2 ** attempt);
      options.onRetry?.({ attempt: attempt + 1, delayMs, status: response?.status ?? null, reason: response ? `HTTP ${response.status}` : 'network error' });
      if (response) await response.body?.cancel();
      await sleep(delayMs);
    }
  };
}

/** Turns every non-2xx answer into an ApiError, so a caller's `data` is always the success body. */
const throwOnError: Middleware = {
  async onResponse({ request, response }) {
    if (response.ok) return undefined;
    const text = await response.clone().text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    const envelope = (body && typeof body === 'object' ? body : {}) as { error?: unknown; code?: unknown; request_id?: unknown; message?: unknown };
    const message = typeof envelope.error === 'string' ? envelope.error : typeof envelope.message === 'string' ? envelope.message : text.trim() || `HTTP ${response.status}`;
    const code = typeof envelope.code === 'string' ? envelope.code : `HTTP_${response.status}`;
    const requestId = typeof envelope.request_id === 'string' ? envelope.request_id : response.headers.get('x-request-id');
    throw new ApiError(response.status, code, message, requestId, body, request.method, request.url);
  },
};

function headersFor(options: ClientOptions): Record<string, string> {
  const headers: Record<string, string> = { ...options.headers };
  const credential = options.credential;
  if (credential?.type === 'session') headers['cookie'] = `mcp_session=${credential.token}`;
  else if (credential) headers['authorization'] = `Bearer ${credential.token}`;
  if (options.orgId) headers['x-molecule-org-id'] = options.orgId;
  else if (options.orgSlug) headers['x-molecule-org-slug'] = options.orgSlug;
  return headers;
}

function build<Paths extends {}>(options: ClientOptions): Client<Paths> {
  const inner = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const client = createClient<Paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: headersFor(options),
    fetch: retryingFetch(inner, options),
  });
  client.use(throwOnError);
  return client;
}

/** A client of one org's tenant server. */
export function createTenantClient(options: ClientOptions): TenantClient {
  return build<TenantPaths>(options);
}

/** A client of the control plane (accounts, orgs, members, billing, partner keys, admin). */
export function createControlPlaneClient(options: Omit<ClientOptions, 'orgId' | 'orgSlug'>): ControlPlaneClient {
  return build<ControlPlanePaths>(options);
}

/** What `request` answers: the status, the headers and the body as text (parsed as JSON when it is JSON). */
export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/**
 * Any route by method and path, untyped — for generic tools (`molecule api`, like `gh api`) that take the route from
 * the user. It goes through the same client, so it gets the same credentials, headers, retries and typed errors.
 */
export async function request(
  client: TenantClient | ControlPlaneClient,
  method: string,
  path: string,
  init: { query?: Record<string, string | string[]>; body?: unknown; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  type Untyped = (method: string, url: string, init: Record<string, unknown>) => Promise<{ response: Response; data?: unknown }>;
  const call = (client.request as unknown as Untyped).bind(client);
  const { response, data } = await call(method.toLowerCase(), path, {
    params: { query: init.query },
    ...(init.body !== undefined ? { body: init.body } : {}),
    ...(init.headers ? { headers: init.headers } : {}),
    parseAs: 'text',
  });
  const text = typeof data === 'string' ? data : '';
  let json: unknown = undefined;
  if (text && (response.headers.get('content-type') ?? '').includes('json')) {
    try {
      json = JSON.parse(text);
    } catch {
      // leave undefined: the caller prints the text
    }
  }
  return { status: response.status, headers: response.headers, text, json };
}
