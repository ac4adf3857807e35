import type { Command } from 'commander';

/** Placeholder while this group is being written (see issue 13); registers nothing yet. */
export function register(_program: Command): void {}
