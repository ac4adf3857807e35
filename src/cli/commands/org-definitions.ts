import type { Command } from 'commander';

/** Placeholder while `org import` / `org export` are being written (issue 13); adds nothing to `org` yet. */
export function registerOrgDefinitions(_org: Command): void {}
