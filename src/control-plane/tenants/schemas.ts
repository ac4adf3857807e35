import { Type } from 'typebox';
import type { AnchorRow } from './store.js';

/** One anchor on the wire: the chain length and head hash the tenant reported, and when. */
export const AuditAnchor = Type.Object({
  count: Type.Integer({ minimum: 0 }),
  head_hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  reported_at: Type.String({ format: 'date-time' }),
});

export const presentAnchor = (a: AnchorRow) => ({ count: a.count, head_hash: a.head_hash, reported_at: a.reported_at.toISOString() });
