import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The cryptography of stored idempotent responses (SECURITY.md, "Idempotency-Key"). A stored response may hold a
 * plaintext credential (the `POST /org/tokens` mint response, a CP login's session cookie), so nothing is kept in
 * the clear: the response is sealed with AES-256-GCM under a key derived (HKDF-SHA256) from material the server
 * never stores — the credential the caller presented (or, for an anonymous request, its raw body) together with the
 * Idempotency-Key value. The row holds only a hash naming it and an HMAC fingerprint of the request under that
 * derived key: a database reader learns neither the credential, the key, the request nor the response.
 */

const ALGORITHM = 'aes-256-gcm';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const VERSION = 'molecule-idempotency-v1';

export interface IdempotencyRequest {
  /** The presented credential material (see `presentedCredential`), or null for an anonymous request. */
  credential: string | null;
  /** The Idempotency-Key header value, already validated. */
  key: string;
  method: string;
  /** The request URL as sent (path and query). */
  url: string;
  /** The request body bytes exactly as received. */
  body: Buffer;
}

export interface IdempotencySecrets {
  /** The row's primary key: sha256 over the scope (credential or "anonymous"), method, URL and key. */
  id: string;
  /** HMAC-SHA256 of method, URL and body under the derived MAC key (hex): same request ⇔ same fingerprint. */
  fingerprint: string;
  /** AES-256-GCM key for the stored response. */
  encKey: Buffer;
}

/** Unambiguous concatenation: every part is prefixed by its byte length, so no two part lists encode alike. */
function lengthPrefixed(parts: ReadonlyArray<string | Buffer>): Buffer {
  const out: Buffer[] = [];
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    out.push(len, bytes);
  }
  return Buffer.concat(out);
}

export function deriveIdempotencySecrets(req: IdempotencyRequest): IdempotencySecrets {
  const scope = req.credential === null ? 'anonymous' : `credential:${req.credential}`;
  const idBytes = createHash('sha256').update(lengthPrefixed([VERSION, scope, req.method, req.url, req.key])).digest();
  // The input keying material is what the caller holds and we do not: its credential (or, anonymous, the body it
  // sends) and the key it chose. The row id salts it, so two routes or scopes never share a derived key.
  const ikm = lengthPrefixed([req.credential === null ? req.body : req.credential, req.key]);
  const encKey = Buffer.from(hkdfSync('sha256', ikm, idBytes, `${VERSION}:enc`, KEY_BYTES));
  const macKey = Buffer.from(hkdfSync('sha256', ikm, idBytes, `${VERSION}:mac`, KEY_BYTES));
  const fingerprint = createHmac('sha256', macKey).update(lengthPrefixed([req.method, req.url, req.body])).digest('hex');
  return { id: idBytes.toString('hex'), fingerprint, encKey };
}

/** Constant-time comparison of two hex fingerprints. */
export function sameFingerprint(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** Seals `plaintext` for the row `id` (bound as associated data: a sealed response cannot be moved to another row). */
export function sealResponse(secrets: Pick<IdempotencySecrets, 'id' | 'encKey'>, plaintext: Buffer): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, secrets.encKey, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(secrets.id, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64');
}

/** The plaintext of a sealed response, or null when it does not authenticate (tampered, truncated, another key). */
export function openResponse(secrets: Pick<IdempotencySecrets, 'id' | 'encKey'>, sealed: string): Buffer | null {
  try {
    const raw = Buffer.from(sealed, 'base64');
    if (raw.length < NONCE_BYTES + TAG_BYTES) return null;
    const decipher = createDecipheriv(ALGORITHM, secrets.encKey, raw.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(secrets.id, 'utf8'));
    decipher.setAuthTag(raw.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    return null;
  }
}

/** A response as stored: status, the headers that matter, the body bytes. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** status + headers as a length-prefixed JSON head, then the body bytes untouched (replayed byte for byte). */
export function encodeResponse(res: StoredResponse): Buffer {
  return lengthPrefixed([JSON.stringify({ status: res.status, headers: res.headers }), res.body]);
}

export function decodeResponse(bytes: Buffer): StoredResponse | null {
  try {
    const headLen = bytes.readUInt32BE(0);
    const head = JSON.parse(bytes.subarray(4, 4 + headLen).toString('utf8')) as { status: unknown; headers: unknown };
    const bodyLen = bytes.readUInt32BE(4 + headLen);
    const body = bytes.subarray(8 + headLen, 8 + headLen + bodyLen);
    if (typeof head.status !== 'number' || typeof head.headers !== 'object' || head.headers === null || body.length !== bodyLen) return null;
    return { status: head.status, headers: head.headers as Record<string, string | string[]>, body: Buffer.from(body) };
  } catch {
    return null;
  }
}
