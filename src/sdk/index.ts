/**
 * `molecule-platform/sdk` for Node: the typed clients of ./client.ts over a fetch that resolves `*.localhost` to the
 * loopback interface (RFC 6761 §6.3 — curl and browsers do; Node's resolver asks DNS and fails), so
 * `http://acme.localhost:8080` reaches the platform's edge on this machine as it does from a browser.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent, fetch as undiciFetch } from 'undici';
import {
  createControlPlaneClient as createControlPlane,
  createTenantClient as createTenant,
  type ClientOptions,
  type ControlPlaneClient,
  type TenantClient,
} from './client.js';

export * from './client.js';

/** True for `localhost` and any name below it (RFC 6761 §6.3), which always mean this machine. */
export function isLoopbackName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** dns.lookup, except that `*.localhost` answers 127.0.0.1 (and ::1 when all addresses are asked for). */
export function loopbackAwareLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  if (!isLoopbackName(hostname)) {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) callback(err, []);
      else if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
    return;
  }
  const v4: LookupAddress = { address: '127.0.0.1', family: 4 };
  if (options.all) callback(null, options.family === 6 ? [{ address: '::1', family: 6 }] : [v4]);
  else if (options.family === 6) callback(null, '::1', 6);
  else callback(null, v4.address, 4);
}

let shared: Agent | null = null;

function agent(): Agent {
  shared ??= new Agent({ connect: { lookup: loopbackAwareLookup } });
  return shared;
}

/** A fetch whose connections resolve `*.localhost` to loopback; everything else resolves as usual. */
export const nodeFetch = async (request: Request): Promise<Response> => {
  const body = request.body === null ? undefined : await request.arrayBuffer();
  const response = await undiciFetch(request.url, {
    method: request.method,
    headers: [...request.headers],
    body,
    signal: request.signal,
    redirect: request.redirect,
    dispatcher: agent(),
  });
  // undici's own Response class; re-wrapped so callers see the global one.
  const bodyless = [101, 204, 205, 304].includes(response.status);
  return new Response(bodyless ? null : (response.body as ReadableStream<Uint8Array> | null), { status: response.status, statusText: response.statusText, headers: [...response.headers] });
};

export function createTenantClient(options: ClientOptions): TenantClient {
  return createTenant({ fetch: nodeFetch, ...options });
}

export function createControlPlaneClient(options: Omit<ClientOptions, 'orgId' | 'orgSlug'>): ControlPlaneClient {
  return createControlPlane({ fetch: nodeFetch, ...options });
}
