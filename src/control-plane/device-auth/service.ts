import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isUniqueViolation } from '../../core/db/index.js';
import { DomainError } from '../../core/errors.js';
import { enforceRateLimit } from '../../core/http/rate-limit.js';
import type { ControlPlaneContext } from '../context.js';
import { createSession } from '../identity/service.js';
import { findUserById } from '../identity/store.js';
import { hashDeviceCode, hashUserCode, newDeviceCode, newUserCode, normalizeUserCode } from './codes.js';
import { decideDeviceAuthorization, deleteByDeviceCode, deleteExpiredDeviceAuthorizations, insertDeviceAuthorization, lockByDeviceCode, recordPoll } from './store.js';

/** RFC 8628 §3.2: how long the codes live and how often the client may poll (each slow_down adds 5 s, §3.5). */
export const DEVICE_CODE_TTL_SECONDS = 900;
export const DEVICE_POLL_INTERVAL_SECONDS = 5;
export const SLOW_DOWN_STEP_SECONDS = 5;

/** The path of the approval page, on the CP's public origin. */
export const DEVICE_PAGE_PATH = '/device';
/** The server-rendered approval page: the no-JS fallback of the console's `/device` page. */
export const DEVICE_FORM_PATH = '/device/form';

export interface IssuedDeviceCode {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

/** Stores a new authorization (hashes only) and answers its codes, the only time the plaintexts exist. */
export async function issueDeviceCode(ctx: ControlPlaneContext, clientName: string, clientIp: string): Promise<IssuedDeviceCode> {
  const now = new Date();
  await deleteExpiredDeviceAuthorizations(ctx.db, now);
  // 20^8 user codes: a clash with a live one is rare, and the unique index makes it a retry rather than an ambiguity.
  for (let attempt = 0; ; attempt++) {
    const deviceCode = newDeviceCode();
    const userCode = newUserCode();
    try {
      await insertDeviceAuthorization(ctx.db, {
        deviceCodeHash: hashDeviceCode(deviceCode),
        userCodeHash: hashUserCode(normalizeUserCode(userCode) ?? userCode),
        clientName,
        clientIp,
        intervalSeconds: DEVICE_POLL_INTERVAL_SECONDS,
        expiresAt: new Date(now.getTime() + DEVICE_CODE_TTL_SECONDS * 1000),
      });
    } catch (err) {
      if (isUniqueViolation(err) && attempt < 3) continue;
      throw err;
    }
    const page = new URL(DEVICE_PAGE_PATH, ctx.publicUrl).toString();
    return {
      device_code: deviceCode,
      user_code: userCode,
      verification_uri: page,
      verification_uri_complete: `${page}?user_code=${encodeURIComponent(userCode)}`,
      expires_in: DEVICE_CODE_TTL_SECONDS,
      interval: DEVICE_POLL_INTERVAL_SECONDS,
    };
  }
}

export interface DeviceTokenResponse {
  access_token: string;
  token_type: 'session';
  expires_in: number;
  org_slug: string | null;
  user: { id: string; email: string };
}

type PollOutcome =
  | { kind: 'expired' }
  | { kind: 'denied' }
  | { kind: 'pending' }
  | { kind: 'slow_down'; interval: number }
  | { kind: 'granted'; body: DeviceTokenResponse };

/**
 * One poll of the token endpoint (RFC 8628 §3.4–§3.5), serialized per device code by a row lock. The poll's own
 * bookkeeping (last poll, a raised interval) commits even when the answer is an error, so the outcome is decided in
 * the transaction and thrown after it. An approved code is deleted as it is exchanged: it is single-use, and a second
 * exchange finds nothing (expired_token).
 */
export async function pollDeviceToken(ctx: ControlPlaneContext, request: FastifyRequest, reply: FastifyReply, deviceCode: string): Promise<DeviceTokenResponse> {
  const hash = hashDeviceCode(deviceCode);
  const outcome = await ctx.db.transaction().execute(async (tx): Promise<PollOutcome> => {
    const now = new Date();
    const row = await lockByDeviceCode(tx, hash);
    if (!row) return { kind: 'expired' };
    if (new Date(row.expires_at).getTime() <= now.getTime()) {
      await deleteByDeviceCode(tx, hash);
      return { kind: 'expired' };
    }
    if (row.status === 'denied') return { kind: 'denied' };
    if (row.status === 'approved' && row.user_id) {
      await deleteByDeviceCode(tx, hash);
      const user = await findUserById(tx, row.user_id);
      if (!user) return { kind: 'expired' };
      const session = await createSession(tx, ctx, request, reply, user, 200);
      return {
        kind: 'granted',
        body: { access_token: session.plaintext, token_type: 'session', expires_in: session.ttlSeconds, org_slug: row.org_slug, user: { id: user.id, email: user.email } },
      };
    }
    const last = row.last_polled_at === null ? null : new Date(row.last_polled_at).getTime();
    if (last !== null && now.getTime() - last < row.interval_seconds * 1000) {
      const interval = row.interval_seconds + SLOW_DOWN_STEP_SECONDS;
      await recordPoll(tx, hash, now, interval);
      return { kind: 'slow_down', interval };
    }
    await recordPoll(tx, hash, now, row.interval_seconds);
    return { kind: 'pending' };
  });
  switch (outcome.kind) {
    case 'granted':
      return outcome.body;
    case 'expired':
      throw new DomainError('DEVICE_CODE_EXPIRED');
    case 'denied':
      throw new DomainError('DEVICE_ACCESS_DENIED');
    case 'slow_down':
      throw new DomainError('DEVICE_SLOW_DOWN', undefined, { interval: outcome.interval });
    case 'pending':
      throw new DomainError('DEVICE_AUTHORIZATION_PENDING');
  }
}

const GUESS_WINDOW_MS = 15 * 60_000;

/**
 * Brute force of user codes (RFC 8628 §5.1): every look-up or decision counts, per user and per client address.
 * With 20^8 codes alive 15 minutes each, DEVICE_VERIFY_LIMIT tries per 15 minutes leaves a guess no real chance.
 */
export async function limitCodeGuessing(ctx: ControlPlaneContext, request: FastifyRequest, reply: FastifyReply, userId: string): Promise<void> {
  await enforceRateLimit(reply, ctx.rateLimiter, `cp-device-verify-addr:${request.ip}`, ctx.config.DEVICE_VERIFY_LIMIT, GUESS_WINDOW_MS);
  await enforceRateLimit(reply, ctx.rateLimiter, `cp-device-verify-user:${userId}`, ctx.config.DEVICE_VERIFY_LIMIT, GUESS_WINDOW_MS);
}

/**
 * The signed-in user's decision on a live code, shared by the console's JSON route and the no-JS form: the decision
 * and its audit event in one transaction. Null when the code is no longer pending (decided meanwhile by another tab,
 * or expired between the look-up and the decision). The caller has checked the org is one of the user's.
 */
export async function decideUserCode(
  ctx: ControlPlaneContext,
  userCodeHash: string,
  decision: { approve: boolean; userId: string; orgSlug: string | null },
  audit: AuditEventInput,
): Promise<{ client_name: string } | null> {
  return ctx.db.transaction().execute(async (tx) => {
    const row = await decideDeviceAuthorization(tx, userCodeHash, new Date(), { status: decision.approve ? 'approved' : 'denied', userId: decision.userId, orgSlug: decision.orgSlug });
    if (!row) return null;
    await appendAuditEvents(tx, [audit]);
    return row;
  });
}
