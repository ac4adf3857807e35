import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AuditWriter } from '../core/audit/writer.js';
import type { RateLimiter } from '../core/rate-limit.js';
import type { TenantAuthenticator } from './auth/authenticator.js';
import type { TenantConfig } from './config.js';
import type { TenantSchema } from './db/schema.js';
import type { EventBus } from './events/bus.js';
import type { EventStreamRegistry } from './events/stream-registry.js';
import type { SecretCipher } from '../core/crypto/cipher.js';
import type { WorkspaceLifecycle } from './workspaces/lifecycle.js';
import type { TenantCallbacks } from './control-plane/callbacks.js';
import type { ChannelDelivery } from './channels/delivery.js';
import type { LoopTicks } from '../core/liveness.js';

/** What a tenant route may use. Built once in `buildTenantApp`; routes never reach for globals. */
export interface TenantContext {
  config: TenantConfig;
  db: Kysely<TenantSchema>;
  log: Logger;
  auth: TenantAuthenticator;
  rateLimiter: RateLimiter;
  auditWriter: AuditWriter;
  events: EventBus;
  /** Open event streams: their limits, and ending them when their credential or workspace goes away. */
  streams: EventStreamRegistry;
  cipher: SecretCipher;
  lifecycle: WorkspaceLifecycle;
  /** Channel delivery: the outbox worker, its SSRF policy and the test route's synchronous send. */
  channels: ChannelDelivery;
  /** What this tenant tells its control plane (boot events, audit anchors); null unless a CP provisioned it. */
  callbacks: TenantCallbacks | null;
  /** The last tick of every background loop (GET /admin/liveness). */
  ticks: LoopTicks;
}
