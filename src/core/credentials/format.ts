import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The plaintext format shared by every minted credential class (DESIGN.md §4):
 *
 *     <type prefix> + base62(32 random bytes, fixed 43 chars) + base62(CRC32(type prefix + body), fixed 6 chars)
 *
 * The type prefix ends in `_`, which is not a base62 character, so a double-click selects the whole key, and a
 * scanner can tell an org key (`mola_`) from a workspace token (`molw_`) by eye. The checksum lets anything —
 * our own auth path, a secret scanner, the leak-report endpoint — reject a mistyped or made-up key offline,
 * without a database round trip (the GitHub token design, spec/peers.md §3).
 */

export const CREDENTIAL_TYPES = {
  orgKey: { prefix: 'mola_', displayLength: 13 },
  workspaceToken: { prefix: 'molw_', displayLength: 13 },
  partnerKey: { prefix: 'mol_pk_live_', displayLength: 16 },
  tenantAdminToken: { prefix: 'molt_', displayLength: 13 },
  /** A control-plane session: only ever inside the HttpOnly `mcp_session` cookie. */
  session: { prefix: 'mols_', displayLength: 13 },
  /** A one-time org invitation, handed to the invitee out of band. */
  invitation: { prefix: 'moli_', displayLength: 13 },
  /** A one-time email verification token, sent in a link to the address it proves (without mail: to the log). */
  emailVerification: { prefix: 'molv_', displayLength: 13 },
} as const;

export type CredentialType = keyof typeof CREDENTIAL_TYPES;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = 43; // ceil(256 / log2(62)): every 32-byte value fits
const CHECKSUM_LENGTH = 6; // 62^6 > 2^32
const BODY_RE = /^[0-9A-Za-z]+$/;

function encodeBase62(value: bigint, width: number): string {
  let out = '';
  let v = value;
  while (v > 0n) {
    out = ALPHABET[Number(v % 62n)] + out;
    v /= 62n;
  }
  return out.padStart(width, '0');
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(input: string): number {
  let crc = 0xffffffff;
  const bytes = Buffer.from(input, 'utf8');
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function checksumOf(prefix: string, body: string): string {
  return encodeBase62(BigInt(crc32(prefix + body)), CHECKSUM_LENGTH);
}

export interface MintedCredential {
  /** The plaintext. Shown exactly once; never stored, never logged. */
  plaintext: string;
  /** sha256(plaintext) as lowercase hex: what is stored and looked up. */
  hash: string;
  /** The first characters, enough to tell keys apart in a list or an audit line, not to guess one. */
  displayPrefix: string;
}

export function mintCredential(type: CredentialType): MintedCredential {
  const { prefix, displayLength } = CREDENTIAL_TYPES[type];
  const body = encodeBase62(BigInt('0x' + randomBytes(32).toString('hex')), BODY_LENGTH);
  const plaintext = prefix + body + checksumOf(prefix, body);
  return { plaintext, hash: hashCredential(plaintext), displayPrefix: plaintext.slice(0, displayLength) };
}

/**
 * True when `candidate` is well-formed for `type`: right prefix, right length, base62 only, and a checksum that
 * matches. Cheap and offline; a true answer says nothing about whether the key exists or is live.
 */
export function isWellFormed(type: CredentialType, candidate: string): boolean {
  const { prefix } = CREDENTIAL_TYPES[type];
  if (candidate.length !== prefix.length + BODY_LENGTH + CHECKSUM_LENGTH || !candidate.startsWith(prefix)) return false;
  const rest = candidate.slice(prefix.length);
  if (!BODY_RE.test(rest)) return false;
  const body = rest.slice(0, BODY_LENGTH);
  const checksum = rest.slice(BODY_LENGTH);
  return checksum === checksumOf(prefix, body);
}

/** Which class a presented string claims to be, by its prefix alone (longest prefix first). */
const BY_PREFIX_LENGTH = (Object.entries(CREDENTIAL_TYPES) as Array<[CredentialType, { prefix: string }]>).sort(
  (a, b) => b[1].prefix.length - a[1].prefix.length,
);

export function claimedType(candidate: string): CredentialType | null {
  for (const [type, { prefix }] of BY_PREFIX_LENGTH) if (candidate.startsWith(prefix)) return type;
  return null;
}

export function hashCredential(plaintext: string): string {
  return createHash('sha256').update(plaintext, 'utf8').digest('hex');
}

export function displayPrefixOf(type: CredentialType, plaintext: string): string {
  return plaintext.slice(0, CREDENTIAL_TYPES[type].displayLength);
}

/**
 * Constant-time comparison for operator-chosen secrets (ADMIN_TOKEN, CP admin token). Both sides are hashed
 * first so the comparison does not even leak the length of the configured value.
 */
export function constantTimeEquals(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
