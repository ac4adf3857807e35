import { Type, type Static } from 'typebox';
import { EVENT_TYPES } from '../bus.js';
import { BIGINT_SAFE_MAX, Text } from '../../../core/http/input.js';

/** One stored event, in the reference's shape (`GET /events`, spec §7); `id` is also the stream's cursor. */
export const StoredEvent = Type.Object({
  id: Type.Integer({ description: 'Increasing event id: the SSE `id:` field and the `Last-Event-ID` / `before` cursor.' }),
  event_type: Type.String({ enum: [...EVENT_TYPES] }),
  workspace_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  payload: Type.Object({}, { additionalProperties: true }),
  created_at: Type.String({ format: 'date-time' }),
});
export type StoredEvent = Static<typeof StoredEvent>;

export const EventListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'At most this many events (default 100, as the reference).' })),
  before: Type.Optional(Type.Integer({ minimum: 1, maximum: BIGINT_SAFE_MAX, description: 'Only events with a smaller id: pass the last id of a page for the next one.' })),
});
export type EventListQuery = Static<typeof EventListQuery>;

/** How a stream resumes; the header is what an EventSource sends when it reconnects. */
export const EventStreamHeaders = Type.Object({
  'last-event-id': Type.Optional(Text({ description: 'Resume after this event id: every later event is sent first, in order.' })),
});

export const EVENT_STREAM_DESCRIPTION =
  'Server-Sent Events (`text/event-stream`). The first bytes are `: ping`; each event is ' +
  '`id: <id>` / `event: <event_type>` / `data: {"id","type","workspace_id","timestamp" (unix ms),"data"}`; a `: keepalive` ' +
  'comment follows every 15 s of silence. With `Last-Event-ID` (or `?last_event_id=`) every stored event after that id is ' +
  'replayed first, in order, with no gap or duplicate before live events. A consumer that falls 1000 events or ' +
  'EVENT_STREAM_BUFFER_BYTES behind gets `event: overflow` and the stream ends; reconnecting with Last-Event-ID resumes it. ' +
  'A stream lives no longer than its credential and its workspace: when the credential is revoked or expires (at once on ' +
  'this server, within a few seconds from another) or the workspace is removed, it ends with ' +
  '`event: closed` / `data: {"reason": "credential_invalid" | "workspace_removed" | "verification_unavailable"}`. ' +
  'Open streams are limited per credential (EVENT_STREAMS_PER_CREDENTIAL_MAX) and per server (EVENT_STREAMS_MAX): ' +
  'beyond, 429 `STREAM_LIMIT` with Retry-After.';

