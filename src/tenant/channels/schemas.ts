import { Type, type Static } from 'typebox';
import { Text } from '../../core/http/input.js';
import { UUID_PATTERN } from '../../core/ids.js';
import { WorkspaceId } from '../workspaces/schemas.js';
import { CHANNEL_TYPES } from './formats.js';

export const ChannelParams = Type.Object({
  id: WorkspaceId,
  channelId: Type.String({ pattern: UUID_PATTERN, description: 'Channel UUID.', 'x-error': 'must be a channel UUID' }),
});

export const ChannelTypeSchema = Type.Union([Type.Literal(CHANNEL_TYPES[0]), Type.Literal(CHANNEL_TYPES[1]), Type.Literal(CHANNEL_TYPES[2])], { description: 'slack, discord or webhook.' });

/**
 * Per-type fields (checked by the service, with messages naming the field): slack `webhook_url` (https://hooks.slack.com/services/…)
 * or `bot_token` + `channel`; discord `webhook_url` (https://discord.com/api/webhooks/…); webhook `url` (http(s)) and
 * optional `secret` (≥ 16 characters; generated and shown once when left out).
 */
export const ChannelConfigInput = Type.Record(Type.String({ maxLength: 64, pattern: '^[a-z_]{1,64}$' }), Text({ maxLength: 2048 }), {
  maxProperties: 8,
  description: 'Type-specific settings; credentials in it are encrypted at rest and never returned.',
});

export const AllowedUsers = Type.Array(Text({ minLength: 1, maxLength: 200 }), {
  maxItems: 200,
  description: 'Users of the chat service allowed to talk to the workspace through this channel (stored, shown, exported).',
});

/** Event type names; unknown names are accepted (approvals and budgets add their own) but must look like one. */
export const ChannelEvents = Type.Array(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_\\.]{0,63}$', maxLength: 64, 'x-error': 'must be an event type name' }), {
  minItems: 1,
  maxItems: 32,
  description: 'Event types delivered. Default: APPROVAL_REQUESTED, WORKSPACE_PROVISION_FAILED, WORKSPACE_OFFLINE, BUDGET_EXCEEDED.',
});

export const ChannelCreateRequest = Type.Object(
  {
    type: ChannelTypeSchema,
    config: ChannelConfigInput,
    allowed_users: Type.Optional(AllowedUsers),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    events: Type.Optional(ChannelEvents),
  },
  { additionalProperties: false },
);
export type ChannelCreateRequest = Static<typeof ChannelCreateRequest>;

export const ChannelUpdateRequest = Type.Object(
  {
    config: Type.Optional(ChannelConfigInput),
    allowed_users: Type.Optional(AllowedUsers),
    enabled: Type.Optional(Type.Boolean()),
    events: Type.Optional(ChannelEvents),
  },
  { additionalProperties: false, minProperties: 1, description: 'Fields left out are unchanged; `config` replaces the whole config (a webhook keeps its secret unless a new one is given).' },
);
export type ChannelUpdateRequest = Static<typeof ChannelUpdateRequest>;

export const ChannelView = Type.Object({
  id: Type.String({ format: 'uuid' }),
  workspace_id: Type.String({ format: 'uuid' }),
  type: ChannelTypeSchema,
  config: Type.Record(Type.String(), Type.String(), { description: 'Masked: enough to recognise the target, never a usable credential.' }),
  allowed_users: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  events: Type.Array(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
export type ChannelView = Static<typeof ChannelView>;

export const ChannelCreated = Type.Object({
  ...ChannelView.properties,
  // The one place a credential is returned: a webhook's generated signing secret, once, at creation.
  signing_secret: Type.Optional(Type.String({ description: 'Only when a webhook channel was created without `config.secret`: the generated secret, shown once.' })),
});

export const DeliveryAttemptView = Type.Object({
  attempt: Type.Integer(),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  duration_ms: Type.Integer(),
  attempted_at: Type.String({ format: 'date-time' }),
});

export const DeliveryView = Type.Object({
  id: Type.String({ format: 'uuid' }),
  channel_id: Type.String({ format: 'uuid' }),
  event_id: Type.Union([Type.Integer(), Type.Null()]),
  event_type: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  last_status_code: Type.Union([Type.Integer(), Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()]),
  next_attempt_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Null once delivered or given up.' }),
  created_at: Type.String({ format: 'date-time' }),
  delivered_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  attempt_log: Type.Array(DeliveryAttemptView),
});
export type DeliveryView = Static<typeof DeliveryView>;

export const DeliveriesQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
});

export const ChannelTestResult = Type.Object({
  ok: Type.Boolean(),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  duration_ms: Type.Integer(),
});
