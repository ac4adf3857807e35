import type { SecretCipher } from '../../core/crypto/cipher.js';

/**
 * A small secret the CP keeps in one text column: `<key id>:<ciphertext>` (AES-256-GCM under the CP key, bound by
 * `aad` to its row and field, so a value copied to another row does not decrypt).
 */
export function sealed(cipher: SecretCipher, plaintext: string, aad: string): string {
  const e = cipher.encrypt(plaintext, aad);
  return `${e.keyId}:${e.ciphertext}`;
}

export function unsealed(cipher: SecretCipher, value: string, aad: string): string {
  const i = value.indexOf(':');
  if (i <= 0) throw new Error('malformed sealed value');
  return cipher.decrypt({ keyId: value.slice(0, i), ciphertext: value.slice(i + 1) }, aad);
}
