import type { Command } from 'commander';
import { examples } from '../command.js';
import { registerOrgDefinitions } from './org-definitions.js';

/** `molecule org`: the org definition verbs (import, templates, export); the org's other verbs join it here. */
export function register(program: Command): void {
  const org = program.command('org').description('the org: import a workspace tree from a template, list org templates, export the tree');
  examples(org, ['molecule org templates', 'molecule org import --template starter-team', 'molecule org export --out org.yaml']);
  registerOrgDefinitions(org);
}
