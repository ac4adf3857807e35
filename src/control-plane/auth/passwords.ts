import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { DomainError } from '../../core/errors.js';

/**
 * Password hashing with scrypt, Node's built-in memory-hard KDF (RFC 7914). The parameters travel with the hash
 * (`scrypt$<logN>$<r>$<p>$<salt>$<key>`), so raising the cost later keeps old hashes verifiable.
 */

const KEY_LENGTH = 32;

/**
 * A cap on scrypt derivations running at once in this process, with a bounded queue behind it. Each derivation
 * takes 32 MiB and a libuv worker thread for tens of milliseconds, so without a cap a burst of sign-ins (or of
 * sign-ups, or of password sprays across many emails) queues unbounded work and memory and starves everything else
 * that uses the thread pool (issue 7 item 8). Beyond the queue a caller is refused at once with 429 and Retry-After.
 *
 * The resource is per process, so the gate is too: one instance, configured from the environment when the control
 * plane is built (PASSWORD_HASH_CONCURRENCY, PASSWORD_HASH_QUEUE_LIMIT).
 */
export class PasswordWork {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  /** Test hooks, run inside the work slot just before and after a real derivation (to count or hold them). */
  beforeDerive: (() => Promise<void> | void) | null = null;
  afterDerive: (() => void) | null = null;

  constructor(
    private maxConcurrent = 4,
    private maxQueued = 64,
  ) {}

  configure(limits: { maxConcurrent: number; maxQueued: number }): void {
    this.maxConcurrent = limits.maxConcurrent;
    this.maxQueued = limits.maxQueued;
    this.admit();
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active < this.maxConcurrent && this.waiting.length === 0) this.active++;
    else if (this.waiting.length < this.maxQueued) await new Promise<void>((resolve) => this.waiting.push(resolve)); // admit() took the slot for us
    else throw new DomainError('RATE_LIMITED', 'too many sign-ins in progress; retry shortly', { retry_after: 1 });
    try {
      await this.beforeDerive?.();
      try {
        return await work();
      } finally {
        this.afterDerive?.();
      }
    } finally {
      this.active--;
      this.admit();
    }
  }

  /** Hands free slots to the longest waiters, first come first served. */
  private admit(): void {
    while (this.active < this.maxConcurrent && this.waiting.length > 0) {
      this.active++;
      this.waiting.shift()!();
    }
  }
}

export const passwordWork = new PasswordWork();

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r * p * 2 };
  return passwordWork.run(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key)));
      }),
  );
}

export async function hashPassword(password: string, logN: number): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, logN, 8, 1);
  return ['scrypt', logN, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [logN, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![logN, r, p].every((n) => Number.isInteger(n) && n > 0) || logN > 22) return false;
  const expected = Buffer.from(parts[5]!, 'base64url');
  const actual = await derive(password, Buffer.from(parts[4]!, 'base64url'), logN, r, p);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * Spends the same work as a real check for an email with no account (or no password), so response time does not
 * tell an attacker which emails are registered.
 */
let dummyHash: Promise<string> | null = null;
export async function burnPasswordCheck(password: string, logN: number): Promise<false> {
  // A decoy that could not be made (the work gate was full) is made again next time, not cached as a failure.
  dummyHash ??= hashPassword('not-a-real-password', logN).catch((err: unknown) => {
    dummyHash = null;
    throw err;
  });
  await verifyPassword(password, await dummyHash);
  return false;
}
