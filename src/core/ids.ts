import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Ids (DESIGN.md §3): orgs and workspaces are UUIDs (clients validate them as such); every other id is a type
 * prefix plus a ULID body, so ids say what they are and sort by creation time.
 */

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

// Random bytes are drawn from the CSPRNG in 4 KiB blocks: every request gets an id, and one call per id was
// measurable on the request path.
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;

function randomChars(count: number): string {
  if (poolOffset + count > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  let out = '';
  // 5 bits per character from one byte each: 80 random bits for the 16-character ULID body.
  for (let i = 0; i < count; i++) out += CROCKFORD[pool[poolOffset + i]! & 31];
  poolOffset += count;
  return out;
}

export function ulid(now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time + randomChars(16);
}

export const ID_PREFIXES = {
  orgToken: 'tok_',
  workspaceToken: 'wtk_',
  auditEvent: 'aud_',
  request: 'req_',
  user: 'usr_',
  session: 'ses_',
  invitation: 'inv_',
  invoice: 'in_',
  billingSession: 'bs_',
  ledgerEntry: 'cre_',
  purge: 'pur_',
  workspaceInstance: 'wsi_',
  partnerKey: 'pak_',
  approval: 'apr_',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

export function newId(kind: IdKind): string {
  return ID_PREFIXES[kind] + ulid();
}

const ULID_BODY = '[0-9A-HJKMNP-TV-Z]{26}';
const ID_RES: Record<IdKind, RegExp> = Object.fromEntries(
  Object.entries(ID_PREFIXES).map(([k, p]) => [k, new RegExp(`^${p}${ULID_BODY}$`)]),
) as Record<IdKind, RegExp>;

export function isId(kind: IdKind, value: string): boolean {
  return ID_RES[kind].test(value);
}

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const UUID_RE = new RegExp(UUID_PATTERN);

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

export function newUuid(): string {
  return randomUUID();
}

export function idPattern(kind: IdKind): string {
  return `^${ID_PREFIXES[kind]}${ULID_BODY}$`;
}
