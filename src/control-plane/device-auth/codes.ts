import { createHash, randomBytes } from 'node:crypto';

/**
 * The two codes of a device authorization (RFC 8628 §3.2): the device code, a bearer secret only the polling client
 * holds, and the user code a person types on the approval page. Only their hashes are stored.
 */

/** RFC 8628 §6.1: 20 consonants, no vowels (no words) and none easily confused (no I/O/U/Y, no digits). */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_LENGTH = 8;

/** What the page accepts as a user code: eight letters, in any case, optionally split in two by a dash or a space. */
export const USER_CODE_INPUT_PATTERN = '^\\s*[A-Za-z]{4}[- ]?[A-Za-z]{4}\\s*$';

/** 32 random bytes, base64url: 256 bits, never guessable within the code's 15 minutes. */
export function newDeviceCode(): string {
  return randomBytes(32).toString('base64url');
}

/** `BCDF-GHJK`: 8 letters drawn uniformly from the alphabet (rejection sampling: no modulo bias), shown with a dash. */
export function newUserCode(): string {
  const letters: string[] = [];
  while (letters.length < USER_CODE_LENGTH) {
    for (const byte of randomBytes(16)) {
      // 240 = 12 × 20: bytes above it would favour the first letters.
      if (byte < 240 && letters.length < USER_CODE_LENGTH) letters.push(USER_CODE_ALPHABET[byte % USER_CODE_ALPHABET.length]!);
    }
  }
  return `${letters.slice(0, 4).join('')}-${letters.slice(4).join('')}`;
}

/** `bcdf ghjk`, `BCDF-GHJK`, `bcdfghjk` → `BCDFGHJK`; null when it cannot be a user code at all. */
export function normalizeUserCode(input: string): string | null {
  const compact = input.trim().toUpperCase().replace(/[- ]/, '');
  if (compact.length !== USER_CODE_LENGTH) return null;
  for (const c of compact) if (!USER_CODE_ALPHABET.includes(c)) return null;
  return compact;
}

/** The form a person reads: `BCDF-GHJK`. */
export function displayUserCode(normalized: string): string {
  return `${normalized.slice(0, 4)}-${normalized.slice(4)}`;
}

export function hashDeviceCode(deviceCode: string): string {
  return createHash('sha256').update(`device:${deviceCode}`).digest('hex');
}

export function hashUserCode(normalized: string): string {
  return createHash('sha256').update(`user-code:${normalized}`).digest('hex');
}
