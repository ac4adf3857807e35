import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';

/**
 * Outbound requests to channel targets, guarded against SSRF: a channel's URL is chosen by a tenant user, and the
 * tenant sits next to its database, its runtimes' loopback ports and the cloud metadata service. Every address a
 * target resolves to must be public, unless an operator listed its range in CHANNEL_ALLOWED_NETWORKS (tests list
 * 127.0.0.1). The check runs in the socket's own DNS lookup, so a name that re-resolves to a private address between
 * validation and connect (DNS rebinding) is still refused. Redirects are never followed.
 */

/** Ranges a channel may never reach unless allowed explicitly (RFC 6890 special-purpose, plus cloud metadata). */
const BLOCKED = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  BLOCKED.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  BLOCKED.addSubnet(net, bits, 'ipv6');
}

export class TargetRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetRefusedError';
  }
}

/** What an operator allowed on top of the public internet (CHANNEL_ALLOWED_NETWORKS). */
export class NetworkPolicy {
  private readonly allowed = new BlockList();
  private readonly hasAllowed: boolean;

  constructor(allowedCidrs: readonly string[]) {
    for (const entry of allowedCidrs) {
      const [address = '', bits] = entry.split('/');
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.allowed.addAddress(address, family);
      else this.allowed.addSubnet(address, Number(bits), family);
    }
    this.hasAllowed = allowedCidrs.length > 0;
  }

  /** True when an operator listed this address (so it may stand in for a service's own host, e.g. a test relay). */
  isExplicitlyAllowed(address: string): boolean {
    const family = isIP(address);
    if (family === 0 || !this.hasAllowed) return false;
    return this.allowed.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** Null when a connection to this address is allowed, else why not. */
  refusal(address: string): string | null {
    const family = isIP(address);
    if (family === 0) return `not an IP address: ${address}`;
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (this.hasAllowed && this.allowed.check(address, type)) return null;
    // An IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped?.[1]) return this.refusal(mapped[1]);
    if (BLOCKED.check(address, type)) return `${address} is a private, loopback or reserved address; channels reach public hosts only (CHANNEL_ALLOWED_NETWORKS allows more)`;
    return null;
  }

  /** Refuses a URL that names a blocked host outright (an IP literal or `localhost`); names are checked at connect. */
  checkUrlHost(url: URL): void {
    // `localhost.` (a trailing dot) is the same name as `localhost`.
    const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
    if (isIP(host)) {
      const why = this.refusal(host);
      if (why) throw new TargetRefusedError(why);
      return;
    }
    const lower = host.toLowerCase();
    if (lower === 'localhost' || lower.endsWith('.localhost') || lower.endsWith('.internal') || lower.endsWith('.local')) {
      if (!this.isExplicitlyAllowed('127.0.0.1')) throw new TargetRefusedError(`${host} is a local name; channels reach public hosts only (CHANNEL_ALLOWED_NETWORKS allows more)`);
    }
  }

  /** A dns.lookup replacement that refuses blocked addresses (used by the socket itself, so rebinding is covered). */
  guardedLookup(): typeof dnsLookup {
    const policy = this;
    const guarded = (hostname: string, options: unknown, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
      dnsLookup(hostname, { ...(options as object), all: true }, (err, addresses) => {
        if (err) return callback(err, '', 0);
        const list = addresses as LookupAddress[];
        for (const a of list) {
          const why = policy.refusal(a.address);
          if (why) return callback(Object.assign(new TargetRefusedError(`${hostname} resolves to ${why}`), { code: 'ECHANNELREFUSED' }), '', 0);
        }
        if ((options as { all?: boolean } | undefined)?.all) return callback(null, list);
        const first = list[0];
        if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
        callback(null, first.address, first.family);
      });
    };
    return guarded as unknown as typeof dnsLookup;
  }
}

export interface PostResult {
  /** The HTTP status, or null when no response came (refused, timeout, connection error). */
  statusCode: number | null;
  /** Null on a 2xx. */
  error: string | null;
  durationMs: number;
}

/** Longest response body read (only its first bytes are kept for the delivery log). */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** POSTs a JSON body; never follows a redirect; a non-2xx, a refusal or a timeout is an error in the result, never a throw. */
export function postJson(policy: NetworkPolicy, target: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<PostResult> {
  const started = Date.now();
  const done = (statusCode: number | null, error: string | null): PostResult => ({ statusCode, error, durationMs: Date.now() - started });
  let url: URL;
  try {
    url = new URL(target);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TargetRefusedError('only http and https URLs are allowed');
    policy.checkUrlHost(url);
  } catch (err) {
    return Promise.resolve(done(null, (err as Error).message));
  }
  return new Promise((resolve) => {
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'molecule-platform-channels/1', ...headers },
        lookup: policy.guardedLookup(),
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
          else res.destroy();
        });
        const finish = () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(done(status, null));
          const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 200);
          const redirect = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
          resolve(done(status, `HTTP ${status}${redirect}${text ? `: ${text}` : ''}`));
        };
        res.on('end', finish);
        res.on('close', finish);
        res.on('error', finish);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve(done(null, err.message)));
    req.end(body);
  });
}
