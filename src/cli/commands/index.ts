import type { Command } from 'commander';
import { register as api } from './api.js';
import { register as approval } from './approval.js';
import { register as audit } from './audit.js';
import { register as auth } from './auth.js';
import { register as billing } from './billing.js';
import { register as bundle } from './bundle.js';
import { register as channel } from './channel.js';
import { register as completion } from './completion.js';
import { register as key } from './key.js';
import { register as mcp } from './mcp.js';
import { register as member } from './member.js';
import { register as org } from './org.js';
import { register as partnerKey } from './partner-key.js';
import { register as platform } from './platform.js';
import { register as plugin } from './plugin.js';
import { register as secret } from './secret.js';
import { register as template } from './template.js';
import { register as token } from './token.js';
import { register as workspace } from './workspace.js';

/** Every command group, one file each, in the order `molecule --help` lists them. */
export const COMMAND_GROUPS: ((program: Command) => void)[] = [
  auth,
  workspace,
  secret,
  key,
  token,
  template,
  org,
  bundle,
  approval,
  plugin,
  channel,
  audit,
  member,
  billing,
  partnerKey,
  platform,
  api,
  mcp,
  completion,
];
