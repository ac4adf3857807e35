import { createHmac, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { ValidationError } from '../../core/errors.js';
import type { NetworkPolicy } from './network.js';

/**
 * Per-type channel config (what is validated, what is secret, how it is masked) and the wire format each service's
 * incoming webhook expects: Slack `{"text", "blocks"}`, Discord `{"content"}`, and our own signed JSON for `webhook`.
 */

export const CHANNEL_TYPES = ['slack', 'discord', 'webhook'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export interface SlackConfig {
  webhook_url?: string;
  bot_token?: string;
  channel?: string;
}
export interface DiscordConfig {
  webhook_url: string;
}
export interface WebhookConfig {
  url: string;
  secret: string;
}
export type ChannelConfig = SlackConfig | DiscordConfig | WebhookConfig;

const SLACK_WEBHOOK_HOST = 'hooks.slack.com';
const SLACK_API_URL = 'https://slack.com/api/chat.postMessage';
const DISCORD_WEBHOOK_HOSTS = ['discord.com', 'discordapp.com'];
const MAX_URL = 2048;

/** The header names of a signed webhook delivery (README "Channels"). */
export const SIGNATURE_HEADER = 'X-Molecule-Signature';
export const DELIVERY_ID_HEADER = 'X-Molecule-Delivery-Id';
export const EVENT_HEADER = 'X-Molecule-Event';

function parseUrl(value: unknown, field: string): URL {
  if (typeof value !== 'string' || value.length === 0) throw new ValidationError(`config.${field} is required`, { field: `config.${field}` });
  if (value.length > MAX_URL) throw new ValidationError(`config.${field} is too long (max ${MAX_URL})`, { field: `config.${field}` });
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValidationError(`config.${field} must be an absolute http(s) URL`, { field: `config.${field}` });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError(`config.${field} must be an http(s) URL`, { field: `config.${field}` });
  if (url.username || url.password) throw new ValidationError(`config.${field} must not carry credentials before the host`, { field: `config.${field}` });
  return url;
}

/** A host an operator listed in CHANNEL_ALLOWED_NETWORKS may stand in for Slack's or Discord's (a relay, a test server). */
function isOperatorAllowedHost(policy: NetworkPolicy, url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) !== 0 && policy.isExplicitlyAllowed(host);
}

function checkReachable(policy: NetworkPolicy, url: URL, field: string): void {
  try {
    policy.checkUrlHost(url);
  } catch (err) {
    throw new ValidationError(`config.${field} is not allowed: ${(err as Error).message}`, { field: `config.${field}` });
  }
}

function onlyKeys(config: Record<string, unknown>, allowed: string[]): void {
  for (const key of Object.keys(config)) {
    if (!allowed.includes(key)) throw new ValidationError(`config.${key} is not a field of this channel type (allowed: ${allowed.join(', ')})`, { field: `config.${key}` });
  }
}

function optionalText(config: Record<string, unknown>, key: string, max: number, pattern?: RegExp): string | undefined {
  const value = config[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max || (pattern && !pattern.test(value))) {
    throw new ValidationError(`config.${key} must be a non-empty string of at most ${max} characters${pattern ? ' in the expected format' : ''}`, { field: `config.${key}` });
  }
  return value;
}

/** A fresh signing secret for a webhook channel created without one (shown once, in the create response). */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(24).toString('base64url')}`;
}

/**
 * Checks a channel's config for its type and answers the normalised config to seal. Everything is validated before
 * anything is written; `previous` (on PATCH) supplies what the new config leaves out — such as a webhook's secret.
 */
export function validateConfig(type: ChannelType, raw: Record<string, unknown>, policy: NetworkPolicy, previous?: ChannelConfig): { config: ChannelConfig; generatedSecret: string | null } {
  if (type === 'slack') {
    onlyKeys(raw, ['webhook_url', 'bot_token', 'channel']);
    const botToken = optionalText(raw, 'bot_token', 256, /^xox[a-z]-[A-Za-z0-9-]+$/);
    const channel = optionalText(raw, 'channel', 128, /^[#A-Za-z0-9_.-]+$/);
    if (raw.webhook_url !== undefined) {
      if (botToken || channel) throw new ValidationError('a slack channel takes either config.webhook_url or config.bot_token + config.channel, not both', { field: 'config' });
      const url = parseUrl(raw.webhook_url, 'webhook_url');
      const official = url.protocol === 'https:' && url.hostname === SLACK_WEBHOOK_HOST && url.pathname.startsWith('/services/');
      if (!official && !isOperatorAllowedHost(policy, url)) throw new ValidationError('config.webhook_url must be a Slack incoming-webhook URL (https://hooks.slack.com/services/…)', { field: 'config.webhook_url' });
      checkReachable(policy, url, 'webhook_url');
      return { config: { webhook_url: url.toString() }, generatedSecret: null };
    }
    if (!botToken || !channel) throw new ValidationError('a slack channel needs config.webhook_url, or config.bot_token and config.channel', { field: 'config' });
    return { config: { bot_token: botToken, channel }, generatedSecret: null };
  }
  if (type === 'discord') {
    onlyKeys(raw, ['webhook_url']);
    const url = parseUrl(raw.webhook_url, 'webhook_url');
    const official = url.protocol === 'https:' && DISCORD_WEBHOOK_HOSTS.includes(url.hostname) && url.pathname.startsWith('/api/webhooks/');
    if (!official && !isOperatorAllowedHost(policy, url)) throw new ValidationError('config.webhook_url must be a Discord webhook URL (https://discord.com/api/webhooks/…)', { field: 'config.webhook_url' });
    checkReachable(policy, url, 'webhook_url');
    return { config: { webhook_url: url.toString() }, generatedSecret: null };
  }
  onlyKeys(raw, ['url', 'secret']);
  const url = parseUrl(raw.url, 'url');
  checkReachable(policy, url, 'url');
  const given = optionalText(raw, 'secret', 256);
  if (given !== undefined && given.length < 16) throw new ValidationError('config.secret must be at least 16 characters', { field: 'config.secret' });
  const kept = previous && 'secret' in previous ? previous.secret : undefined;
  const secret = given ?? kept ?? newSigningSecret();
  return { config: { url: url.toString(), secret }, generatedSecret: given === undefined && kept === undefined ? secret : null };
}

const STARS = '****';

/** Keeps the host and the start of a service URL's path: enough to recognise it, never enough to use it. */
function maskUrl(value: string, knownPrefix: string): string {
  try {
    const url = new URL(value);
    const prefix = url.pathname.startsWith(knownPrefix) ? knownPrefix : '/';
    const rest = url.pathname.slice(prefix.length);
    return `${url.origin}${prefix}${rest.slice(0, 2)}${STARS}`;
  } catch {
    return STARS;
  }
}

/** What reads show of a config: no URL path past its first characters, no token, no secret. */
export function maskConfig(type: ChannelType, config: ChannelConfig): Record<string, unknown> {
  if (type === 'slack') {
    const c = config as SlackConfig;
    if (c.webhook_url) return { webhook_url: maskUrl(c.webhook_url, '/services/') };
    return { bot_token: `${(c.bot_token ?? '').slice(0, 5)}${STARS}`, channel: c.channel ?? '' };
  }
  if (type === 'discord') return { webhook_url: maskUrl((config as DiscordConfig).webhook_url, '/api/webhooks/') };
  const c = config as WebhookConfig;
  return { url: maskUrl(c.url, '/'), secret: STARS };
}

/** One notification as every format renders it. */
export interface Notification {
  deliveryId: string;
  eventType: string;
  workspaceId: string;
  workspaceName: string;
  createdAt: string;
  payload: Record<string, unknown>;
}

/** A one-line human summary (Slack and Discord). */
export function summarise(n: Notification): string {
  const who = n.workspaceName ? `${n.workspaceName} (${n.workspaceId})` : n.workspaceId;
  const p = n.payload;
  const detail =
    typeof p.error === 'string' ? p.error : typeof p.reason === 'string' ? p.reason : typeof p.message === 'string' ? p.message : typeof p.action === 'string' ? p.action : '';
  const line = `[Molecule] ${n.eventType} — workspace ${who}${detail ? `: ${detail}` : ''}`;
  return line.length > 1900 ? `${line.slice(0, 1897)}...` : line;
}

/** The signature header value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (Stripe's convention). */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export interface OutboundRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

/** The HTTP request that delivers `n` to a channel of this type and config. */
export function renderRequest(type: ChannelType, config: ChannelConfig, n: Notification, now = new Date()): OutboundRequest {
  const text = summarise(n);
  if (type === 'slack') {
    const c = config as SlackConfig;
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text } }];
    if (c.webhook_url) return { url: c.webhook_url, body: JSON.stringify({ text, blocks }), headers: {} };
    return { url: SLACK_API_URL, body: JSON.stringify({ channel: c.channel, text, blocks }), headers: { authorization: `Bearer ${c.bot_token ?? ''}` } };
  }
  if (type === 'discord') return { url: (config as DiscordConfig).webhook_url, body: JSON.stringify({ content: text }), headers: {} };
  const c = config as WebhookConfig;
  const body = JSON.stringify({ id: n.deliveryId, type: n.eventType, workspace_id: n.workspaceId, created_at: n.createdAt, payload: n.payload });
  return {
    url: c.url,
    body,
    headers: {
      [SIGNATURE_HEADER]: signatureHeader(c.secret, body, Math.floor(now.getTime() / 1000)),
      [DELIVERY_ID_HEADER]: n.deliveryId,
      [EVENT_HEADER]: n.eventType,
    },
  };
}
