import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Secrets at rest (DESIGN.md §3): AES-256-GCM with a random 12-byte nonce, stored as base64(nonce ‖ ciphertext ‖
 * tag) beside the id of the key that sealed it. Unlike the reference (spec §6.1: no AAD, no key id), every value is
 * bound to its row through the AAD, so a ciphertext copied to another row or workspace fails to open, and the key
 * id lets a keyring of current + previous keys decrypt while `molecule-platform secrets rotate-key` re-encrypts.
 */

export interface EncryptedValue {
  /** base64(nonce ‖ ciphertext ‖ tag). */
  ciphertext: string;
  /** `keyIdOf(key)` of the key that encrypted it. */
  keyId: string;
}

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_HEX_CHARS = 12;
/** HKDF `info` of the value-hash key: its own label, so it never equals (or reveals) the encryption key. */
const VALUE_HASH_KEY_LABEL = 'molecule-platform secrets value_hash v1';
/** The reference's value_hash length (spec §6.2): 8 hex characters. */
const VALUE_HASH_HEX_CHARS = 8;
/** 43 characters of one base64 alphabet (256 bits + 2 zero bits), optionally with its one `=` of padding. */
const BASE64_32_BYTES = /^[A-Za-z0-9+/]{43}=?$/;
const BASE64URL_32_BYTES = /^[A-Za-z0-9_-]{43}=?$/;
/**
 * The entropy floor for a configured key (documented in the README): at least this many distinct byte values among
 * the 32, and not every byte a printable ASCII character. 32 random bytes average ~30 distinct values; the chance
 * that `openssl rand -base64 32` fails either rule is below 1e-13. What they catch: a repeated character, a short
 * pattern, and a passphrase that was base64-encoded to fit the format.
 */
const MIN_DISTINCT_KEY_BYTES = 16;

export const GENERATE_KEY_HINT = 'generate one with: openssl rand -base64 32';

/** A key setting the operator must fix before the server can start. The message says what to do. */
export class SecretKeyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretKeyConfigError';
  }
}

/** A stored value could not be opened: tampered with, truncated, moved to another row, or sealed by an unknown key. */
export class SecretDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The value names a key id that is in neither SECRETS_ENCRYPTION_KEY nor SECRETS_ENCRYPTION_KEYS_PREVIOUS. */
export class UnknownSecretKeyError extends SecretDecryptionError {
  constructor(readonly keyId: string) {
    super(
      `secret was encrypted with key id ${keyId}, which is not configured; add that key to SECRETS_ENCRYPTION_KEYS_PREVIOUS (or restore it as SECRETS_ENCRYPTION_KEY)`,
    );
  }
}

/** Deterministic and registry-free: the first 12 hex chars of sha256(key bytes). Never reveals the key itself. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, KEY_ID_HEX_CHARS);
}

export interface ParseKeyOptions {
  /**
   * Also accept what earlier versions accepted: a raw 32-byte string, and keys below the entropy floor. Only for
   * SECRETS_ENCRYPTION_KEYS_PREVIOUS, which decrypts and never encrypts, so a weak key can be rotated away.
   */
  legacy?: boolean;
}

/**
 * Why a configured key is refused, as a phrase that follows the setting's name ("must be …"), or null when it is
 * acceptable. The key material never appears in it.
 */
export function secretKeyProblem(raw: string, opts: ParseKeyOptions = {}): string | null {
  return decodeSecretKey(raw, opts).problem;
}

function decodeSecretKey(raw: string, opts: ParseKeyOptions): { key: Buffer; problem: null } | { key: null; problem: string } {
  const value = raw.trim();
  const alphabet = BASE64_32_BYTES.test(value) ? 'base64' : BASE64URL_32_BYTES.test(value) ? 'base64url' : null;
  if (alphabet !== null) {
    const key = Buffer.from(value, alphabet);
    // One key, one spelling: the 2 spare bits of the last character must be zero (Buffer.from ignores them).
    if (key.length === KEY_BYTES && key.toString(alphabet).replace(/=$/, '') === value.replace(/=$/, '')) {
      if (opts.legacy || isRandomLooking(key)) return { key, problem: null };
      return {
        key: null,
        problem:
          `is not random enough: it decodes to fewer than ${MIN_DISTINCT_KEY_BYTES} distinct byte values or to printable text only, ` +
          `which 32 random bytes practically never do (${GENERATE_KEY_HINT})`,
      };
    }
  }
  if (opts.legacy && Buffer.byteLength(value, 'utf8') === KEY_BYTES) return { key: Buffer.from(value, 'utf8'), problem: null };
  const legacyHint =
    Buffer.byteLength(value, 'utf8') === KEY_BYTES
      ? '; a raw 32-character string is no longer accepted as key bytes: move it to SECRETS_ENCRYPTION_KEYS_PREVIOUS, ' +
        'set a new key here and run `molecule-platform secrets rotate-key`'
      : '; the value given is not base64 or base64url of exactly 32 bytes';
  return { key: null, problem: `must be 32 random bytes, base64-encoded (${GENERATE_KEY_HINT})${legacyHint}` };
}

function isRandomLooking(key: Buffer): boolean {
  const distinct = new Set(key).size;
  const printableOnly = key.every((b) => b >= 0x20 && b <= 0x7e);
  return distinct >= MIN_DISTINCT_KEY_BYTES && !printableOnly;
}

/**
 * Parses one configured key: standard base64 or base64url of exactly 32 bytes (what `openssl rand -base64 32`
 * prints), above the entropy floor. Unlike the reference (spec §6.1), a raw 32-character string is refused: its bytes
 * are printable text, a fraction of the key space. Anything else is refused at boot (the reference silently disabled
 * encryption). `source` names the setting in the error; the key material never appears in a message.
 */
export function parseSecretKey(raw: string, source: string, opts: ParseKeyOptions = {}): Buffer {
  const decoded = decodeSecretKey(raw, opts);
  if (decoded.problem !== null) throw new SecretKeyConfigError(`${source} ${decoded.problem}`);
  return decoded.key;
}

/** Where the embedded default keeps its generated key. */
export function embeddedKeyPath(dataDir: string): string {
  return path.join(dataDir, 'secrets.key');
}

/** The settings `fromConfig` reads (a structural subset of the tenant config, so core does not depend on it). */
export interface SecretCipherConfig {
  SECRETS_ENCRYPTION_KEY?: string | undefined;
  SECRETS_ENCRYPTION_KEYS_PREVIOUS?: string | undefined;
  MOLECULE_DATA_DIR: string;
  MOLECULE_ENV: string;
}

export interface CipherLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export class SecretCipher {
  private readonly keys: ReadonlyMap<string, Buffer>;
  private readonly valueHashKey: Buffer;
  readonly currentKeyId: string;

  /** `current` encrypts; it and every `previous` key decrypt. Duplicates are harmless. */
  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    for (const k of [current, ...previous]) {
      if (k.length !== KEY_BYTES) throw new SecretKeyConfigError(`an AES-256 key must be ${KEY_BYTES} bytes, got ${k.length}`);
    }
    const keys = new Map<string, Buffer>();
    for (const k of [current, ...previous]) keys.set(keyIdOf(k), Buffer.from(k));
    this.keys = keys;
    this.currentKeyId = keyIdOf(current);
    this.valueHashKey = Buffer.from(hkdfSync('sha256', current, Buffer.alloc(0), VALUE_HASH_KEY_LABEL, KEY_BYTES));
  }

  /**
   * What events carry instead of a value (`value_hash`): 8 hex characters of HMAC-SHA256 under a key derived from the
   * current encryption key. The reference's unsalted sha256 prefix (spec §6.2) let any reader test guesses offline;
   * this one cannot be checked without the key, and differs between tenants with different keys. A key rotation
   * starts a new series: the same value hashes differently before and after.
   */
  valueHash(value: string): string {
    return createHmac('sha256', this.valueHashKey).update(value, 'utf8').digest('hex').slice(0, VALUE_HASH_HEX_CHARS);
  }

  /**
   * The full keyed HMAC of a value, for binding a request to it (the approval gate's request hash): 256 bits, so no
   * other value matches, and keyed, so the stored hash cannot be tested against guesses without the key.
   */
  valueDigest(value: string): string {
    return createHmac('sha256', this.valueHashKey).update(value, 'utf8').digest('hex');
  }

  /** A throwaway key, for in-memory databases (tests): it dies with the process, like the data it protects. */
  static ephemeral(): SecretCipher {
    return new SecretCipher(randomBytes(KEY_BYTES));
  }

  /**
   * The keyring from configuration. No SECRETS_ENCRYPTION_KEY: production is refused (the launcher already
   * refuses; this is the second lock), `memory://` gets an ephemeral key, and otherwise the embedded default
   * generates one into `<MOLECULE_DATA_DIR>/secrets.key` (mode 0600) once and reuses it on every restart.
   */
  static fromConfig(config: SecretCipherConfig, log?: CipherLog): SecretCipher {
    const previous = (config.SECRETS_ENCRYPTION_KEYS_PREVIOUS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((s, i) => parseSecretKey(s, `SECRETS_ENCRYPTION_KEYS_PREVIOUS (entry ${i + 1})`, { legacy: true }));
    if (config.SECRETS_ENCRYPTION_KEY) {
      return new SecretCipher(parseSecretKey(config.SECRETS_ENCRYPTION_KEY, 'SECRETS_ENCRYPTION_KEY'), previous);
    }
    if (config.MOLECULE_ENV === 'production') {
      throw new SecretKeyConfigError(`SECRETS_ENCRYPTION_KEY is required in production: set it to 32 random bytes, base64 (${GENERATE_KEY_HINT})`);
    }
    if (config.MOLECULE_DATA_DIR.startsWith('memory://')) {
      return new SecretCipher(randomBytes(KEY_BYTES), previous);
    }
    return new SecretCipher(loadOrCreateEmbeddedKey(config.MOLECULE_DATA_DIR, log), previous);
  }

  /** The key ids this keyring can decrypt, the current one first. */
  get keyIds(): string[] {
    return [this.currentKeyId, ...[...this.keys.keys()].filter((id) => id !== this.currentKeyId)];
  }

  canDecrypt(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  /** Seals `plaintext` with the current key. `aad` names the row it belongs to (e.g. `workspace:<id>:<KEY>`). */
  encrypt(plaintext: string, aad: string): EncryptedValue {
    const key = this.keys.get(this.currentKeyId)!; // the constructor always puts the current key in the ring
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { ciphertext: Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64'), keyId: this.currentKeyId };
  }

  /** Opens a value sealed by any key in the ring, for the same `aad`; anything else throws SecretDecryptionError. */
  decrypt(value: EncryptedValue, aad: string): string {
    const key = this.keys.get(value.keyId);
    if (!key) throw new UnknownSecretKeyError(value.keyId);
    const blob = Buffer.from(value.ciphertext, 'base64');
    if (blob.length < NONCE_BYTES + TAG_BYTES) throw new SecretDecryptionError('secret ciphertext is truncated');
    const decipher = createDecipheriv(ALGORITHM, key, blob.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(blob.subarray(NONCE_BYTES, blob.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      // GCM says only "unable to authenticate": the value was altered, or it belongs to another row.
      throw new SecretDecryptionError(`secret failed authentication under key id ${value.keyId} (tampered, or not this row's value)`);
    }
  }
}

/**
 * Reads `<dataDir>/secrets.key`, or creates it exactly once. The key is written to a private temporary file and
 * hard-linked into place, which fails if the name exists: two processes starting together agree on one key, and
 * neither can read a half-written file.
 */
function loadOrCreateEmbeddedKey(dataDir: string, log?: CipherLog): Buffer {
  const file = embeddedKeyPath(dataDir);
  const fail = (what: string, err: unknown) =>
    new SecretKeyConfigError(`cannot ${what} the embedded secrets key at ${file}: ${(err as Error).message}; fix that, or set SECRETS_ENCRYPTION_KEY (${GENERATE_KEY_HINT})`);
  if (!existsSync(file)) {
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(tmp, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      linkSync(tmp, file);
      log?.warn(
        { path: file },
        'SECRETS_ENCRYPTION_KEY is not set: generated the embedded secrets key. Back it up with the data directory; production requires SECRETS_ENCRYPTION_KEY.',
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fail('create', err);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw fail('read', err);
  }
  return parseSecretKey(text, `the embedded secrets key file ${file}`);
}
