import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  embeddedKeyPath,
  keyIdOf,
  parseSecretKey,
  SecretCipher,
  SecretDecryptionError,
  SecretKeyConfigError,
  UnknownSecretKeyError,
} from './cipher.js';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const b64 = (k: Buffer) => k.toString('base64');
const AAD = 'workspace:7d3f0d43-2a53-4a43-9a3c-5f0b8f0e7a11:OPENAI_API_KEY';

describe('SecretCipher', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(path.join(tmpdir(), 'molecule-cipher-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('round-trips, with a fresh nonce per value, as base64(nonce ‖ ciphertext ‖ tag)', () => {
    const cipher = new SecretCipher(keyA);
    const plaintext = 'sk-live-ünïcødé-🔑';
    const one = cipher.encrypt(plaintext, AAD);
    const two = cipher.encrypt(plaintext, AAD);
    assert.notEqual(one.ciphertext, two.ciphertext, 'a random nonce per encryption');
    assert.equal(one.keyId, keyIdOf(keyA));
    assert.equal(Buffer.from(one.ciphertext, 'base64').length, 12 + Buffer.byteLength(plaintext) + 16);
    assert.equal(one.ciphertext.includes(plaintext), false);
    assert.equal(cipher.decrypt(one, AAD), plaintext);
    assert.equal(cipher.decrypt(two, AAD), plaintext);
  });

  it('derives the key id from the key alone: first 12 hex chars of sha256', () => {
    assert.equal(keyIdOf(keyA), createHash('sha256').update(keyA).digest('hex').slice(0, 12));
    assert.match(new SecretCipher(keyA).currentKeyId, /^[0-9a-f]{12}$/);
    assert.equal(new SecretCipher(Buffer.from(keyA)).currentKeyId, new SecretCipher(keyA).currentKeyId);
    assert.notEqual(keyIdOf(keyA), keyIdOf(keyB));
  });

  it('refuses a tampered ciphertext, nonce or tag', () => {
    const cipher = new SecretCipher(keyA);
    const sealed = cipher.encrypt('value', AAD);
    const blob = Buffer.from(sealed.ciphertext, 'base64');
    for (const index of [0, 12, blob.length - 1]) {
      const tampered = Buffer.from(blob);
      tampered[index] = tampered[index]! ^ 0x01;
      assert.throws(() => cipher.decrypt({ ...sealed, ciphertext: tampered.toString('base64') }, AAD), SecretDecryptionError, `byte ${index}`);
    }
    assert.throws(() => cipher.decrypt({ ...sealed, ciphertext: blob.subarray(0, 20).toString('base64') }, AAD), /truncated/);
  });

  it('binds a value to its row: another AAD (key, workspace or scope) does not decrypt', () => {
    const cipher = new SecretCipher(keyA);
    const sealed = cipher.encrypt('value', AAD);
    for (const other of [
      'workspace:7d3f0d43-2a53-4a43-9a3c-5f0b8f0e7a11:ANTHROPIC_API_KEY',
      'workspace:00000000-2a53-4a43-9a3c-5f0b8f0e7a11:OPENAI_API_KEY',
      'global:OPENAI_API_KEY',
      '',
    ]) {
      assert.throws(() => cipher.decrypt(sealed, other), SecretDecryptionError, other);
    }
  });

  it('after a rotation, the previous key still decrypts and the new key encrypts', () => {
    const before = new SecretCipher(keyA);
    const old = before.encrypt('old value', AAD);
    const rotated = new SecretCipher(keyB, [keyA]);
    assert.equal(rotated.currentKeyId, keyIdOf(keyB));
    assert.deepEqual(rotated.keyIds, [keyIdOf(keyB), keyIdOf(keyA)]);
    assert.equal(rotated.decrypt(old, AAD), 'old value');
    const fresh = rotated.encrypt('new value', AAD);
    assert.equal(fresh.keyId, keyIdOf(keyB));
    // Once the old key is dropped, its rows are named by key id, not silently unreadable.
    const onlyB = new SecretCipher(keyB);
    assert.equal(onlyB.decrypt(fresh, AAD), 'new value');
    assert.throws(
      () => onlyB.decrypt(old, AAD),
      (err: unknown) => err instanceof UnknownSecretKeyError && err.keyId === keyIdOf(keyA) && err.message.includes(keyIdOf(keyA)),
    );
  });

  it('does not accept a key id it was not given, even if the ciphertext would open', () => {
    const cipher = new SecretCipher(keyA);
    const sealed = cipher.encrypt('v', AAD);
    assert.throws(() => cipher.decrypt({ ...sealed, keyId: 'deadbeef0000' }, AAD), UnknownSecretKeyError);
  });

  it('parses a key given as base64 or base64url of exactly 32 bytes, with or without padding', () => {
    assert.deepEqual(parseSecretKey(b64(keyA), 'K'), keyA);
    assert.deepEqual(parseSecretKey(`  ${b64(keyA)}\n`, 'K'), keyA);
    assert.deepEqual(parseSecretKey(b64(keyA).replace(/=$/, ''), 'K'), keyA);
    assert.deepEqual(parseSecretKey(keyA.toString('base64url'), 'K'), keyA);
    assert.deepEqual(parseSecretKey(`${keyA.toString('base64url')}=`, 'K'), keyA);
  });

  it('refuses a raw 32-character string: it is not 32 random bytes, and the message says how to migrate', () => {
    const raw = 'abcdefghijklmnopqrstuvwxyz012345';
    assert.throws(
      () => parseSecretKey(raw, 'SECRETS_ENCRYPTION_KEY'),
      (err: unknown) =>
        err instanceof SecretKeyConfigError &&
        err.message.startsWith('SECRETS_ENCRYPTION_KEY must be 32 random bytes, base64-encoded') &&
        err.message.includes('openssl rand -base64 32') &&
        err.message.includes('SECRETS_ENCRYPTION_KEYS_PREVIOUS') &&
        err.message.includes('secrets rotate-key') &&
        !err.message.includes(raw),
    );
  });

  it('refuses malformed values and non-canonical or mixed-alphabet base64, never echoing the value', () => {
    const url = keyA.toString('base64url');
    const mixed = `${b64(keyA).slice(0, 42).replace(/[A-Za-z0-9]/, '+').replace(/[A-Za-z0-9]/, '_')}A=`;
    // The last character of 43 carries 4 bits; its 2 padding bits must be zero (one key, one spelling).
    const last = b64(keyA)[42]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const nonCanonical = `${b64(keyA).slice(0, 42)}${alphabet[alphabet.indexOf(last) + 1]}=`;
    for (const bad of ['', 'short', b64(randomBytes(16)), b64(randomBytes(33)), 'x'.repeat(33), 'é'.repeat(32), `${url}==`, mixed, nonCanonical]) {
      assert.throws(
        () => parseSecretKey(bad, 'SECRETS_ENCRYPTION_KEY'),
        (err: unknown) =>
          err instanceof SecretKeyConfigError &&
          err.message.startsWith('SECRETS_ENCRYPTION_KEY must be 32 random bytes, base64-encoded') &&
          err.message.includes('openssl rand -base64 32') &&
          (bad === '' || !err.message.includes(bad)),
        JSON.stringify(bad),
      );
    }
  });

  it('refuses low-entropy keys: one repeated byte, fewer than 16 distinct bytes, or only printable characters', () => {
    const lowEntropy = [
      Buffer.alloc(32, 0), // all zero: "AAAA…A="
      Buffer.alloc(32, 0x61), // "aaaa…"
      Buffer.from(Array.from({ length: 32 }, (_, i) => i % 15)), // 15 distinct values
      Buffer.from('correct horse battery staple 123', 'utf8'), // a passphrase, base64-encoded
    ];
    for (const key of lowEntropy) {
      assert.equal(key.length, 32);
      assert.throws(
        () => parseSecretKey(b64(key), 'SECRETS_ENCRYPTION_KEY'),
        (err: unknown) =>
          err instanceof SecretKeyConfigError &&
          err.message.startsWith('SECRETS_ENCRYPTION_KEY is not random enough') &&
          err.message.includes('openssl rand -base64 32') &&
          !err.message.includes(b64(key)),
        key.toString('hex'),
      );
    }
    // The rule passes random keys: 2,000 fresh ones, each accepted.
    for (let i = 0; i < 2000; i++) {
      const k = randomBytes(32);
      assert.deepEqual(parseSecretKey(b64(k), 'K'), k);
    }
    // 16 distinct values, not all printable: the documented floor is exactly reached.
    const floor = Buffer.from(Array.from({ length: 32 }, (_, i) => (i % 16) * 16));
    assert.deepEqual(parseSecretKey(b64(floor), 'K'), floor);
  });

  it('previous keys (read-only, for rotating away) also accept the legacy raw 32-character form and weak keys', () => {
    const raw = 'abcdefghijklmnopqrstuvwxyz012345';
    assert.deepEqual(parseSecretKey(raw, 'K', { legacy: true }), Buffer.from(raw));
    assert.deepEqual(parseSecretKey(b64(Buffer.alloc(32, 7)), 'K', { legacy: true }), Buffer.alloc(32, 7));
    assert.throws(() => parseSecretKey('short', 'K', { legacy: true }), /^SecretKeyConfigError: K must be 32 random bytes/);
  });

  it('fromConfig: the configured key encrypts, the previous keys decrypt, a bad previous entry is named', () => {
    const base = { MOLECULE_DATA_DIR: 'memory://', MOLECULE_ENV: 'production' };
    const cipher = SecretCipher.fromConfig({ ...base, SECRETS_ENCRYPTION_KEY: b64(keyB), SECRETS_ENCRYPTION_KEYS_PREVIOUS: ` ${b64(keyA)} ,, ` });
    assert.equal(cipher.currentKeyId, keyIdOf(keyB));
    assert.equal(cipher.canDecrypt(keyIdOf(keyA)), true);
    assert.throws(
      () => SecretCipher.fromConfig({ ...base, SECRETS_ENCRYPTION_KEY: b64(keyB), SECRETS_ENCRYPTION_KEYS_PREVIOUS: `${b64(keyA)},nope` }),
      /SECRETS_ENCRYPTION_KEYS_PREVIOUS \(entry 2\) must be 32 random bytes/,
    );
    assert.throws(() => SecretCipher.fromConfig({ ...base, SECRETS_ENCRYPTION_KEY: 'nope' }), /^SecretKeyConfigError: SECRETS_ENCRYPTION_KEY must be 32 random bytes/);
    // A legacy raw key still opens old rows from SECRETS_ENCRYPTION_KEYS_PREVIOUS, so it can be rotated away.
    const raw = 'abcdefghijklmnopqrstuvwxyz012345';
    const legacy = new SecretCipher(Buffer.from(raw));
    const sealed = legacy.encrypt('sealed under the raw key', AAD);
    const rotating = SecretCipher.fromConfig({ ...base, SECRETS_ENCRYPTION_KEY: b64(keyB), SECRETS_ENCRYPTION_KEYS_PREVIOUS: raw });
    assert.equal(rotating.decrypt(sealed, AAD), 'sealed under the raw key');
    assert.equal(rotating.currentKeyId, keyIdOf(keyB));
  });

  it('fromConfig: production without a key is refused', () => {
    const dir = tempDir();
    assert.throws(
      () => SecretCipher.fromConfig({ MOLECULE_DATA_DIR: dir, MOLECULE_ENV: 'production' }),
      (err: unknown) => err instanceof SecretKeyConfigError && /SECRETS_ENCRYPTION_KEY is required in production/.test(err.message),
    );
    assert.throws(() => statSync(embeddedKeyPath(dir)), /ENOENT/, 'no key file is generated in production');
  });

  it('fromConfig: memory:// gets an ephemeral key, different each time', () => {
    const a = SecretCipher.fromConfig({ MOLECULE_DATA_DIR: 'memory://', MOLECULE_ENV: 'test' });
    const b = SecretCipher.fromConfig({ MOLECULE_DATA_DIR: 'memory://', MOLECULE_ENV: 'test' });
    assert.notEqual(a.currentKeyId, b.currentKeyId);
  });

  it('fromConfig: the embedded default generates <data dir>/secrets.key once (0600) and reuses it', () => {
    const dir = path.join(tempDir(), 'nested', 'data');
    const warnings: string[] = [];
    const log = { info: () => undefined, warn: (_o: object, msg: string) => void warnings.push(msg) };
    const first = SecretCipher.fromConfig({ MOLECULE_DATA_DIR: dir, MOLECULE_ENV: 'development' }, log);
    const file = embeddedKeyPath(dir);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(warnings.length, 1);
    const stored = readFileSync(file, 'utf8');
    const sealed = first.encrypt('kept across restarts', 'global:K');
    const second = SecretCipher.fromConfig({ MOLECULE_DATA_DIR: dir, MOLECULE_ENV: 'development' }, log);
    assert.equal(second.currentKeyId, first.currentKeyId);
    assert.equal(second.decrypt(sealed, 'global:K'), 'kept across restarts');
    assert.equal(readFileSync(file, 'utf8'), stored, 'the file is never rewritten');
    assert.equal(warnings.length, 1, 'generated once');
    // A configured key wins over the file (and the file key can be listed as a previous key to rotate away from it).
    const configured = SecretCipher.fromConfig({ MOLECULE_DATA_DIR: dir, MOLECULE_ENV: 'development', SECRETS_ENCRYPTION_KEY: b64(keyA), SECRETS_ENCRYPTION_KEYS_PREVIOUS: stored });
    assert.equal(configured.currentKeyId, keyIdOf(keyA));
    assert.equal(configured.decrypt(sealed, 'global:K'), 'kept across restarts');
  });

  it('fromConfig: a corrupt embedded key file is a startup error that names the file', () => {
    const dir = tempDir();
    writeFileSync(embeddedKeyPath(dir), 'garbage\n', { mode: 0o600 });
    assert.throws(() => SecretCipher.fromConfig({ MOLECULE_DATA_DIR: dir, MOLECULE_ENV: 'development' }), (err: unknown) =>
      err instanceof SecretKeyConfigError && err.message.includes(embeddedKeyPath(dir)),
    );
  });

  it('refuses keys of the wrong length at construction', () => {
    assert.throws(() => new SecretCipher(randomBytes(16)), SecretKeyConfigError);
    assert.throws(() => new SecretCipher(keyA, [randomBytes(31)]), SecretKeyConfigError);
  });
});
