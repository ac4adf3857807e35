import { Command, Option } from 'commander';
import { COMMAND_GROUPS } from './commands/index.js';
import { version } from './version.js';

/** True when the argv asks for machine output (`--json` or `-o json`), before commander has parsed it. */
export function wantsJson(argv: string[]): boolean {
  return argv.some((a, i) => a === '--json' || a === '--output=json' || a === '-ojson' || ((a === '-o' || a === '--output') && argv[i + 1] === 'json'));
}

/**
 * The `molecule` program: global options once here, then one group per file under commands/. Tests build it too
 * (to walk every command's help), so it never parses argv or exits by itself.
 */
export function buildProgram(argv: string[] = process.argv): Command {
  const json = wantsJson(argv);
  const program = new Command('molecule')
    .description('The Molecule Platform CLI: workspaces, keys, secrets, templates, approvals and audit of an org; orgs, members and billing on the control plane.')
    .version(version, '-v, --version')
    .exitOverride()
    .showHelpAfterError(json ? false : '(run with --help for usage)')
    .configureOutput({
      // Under --json, main.ts prints the usage error as JSON; the prose would corrupt a script's stderr parsing.
      outputError: (text, write) => {
        if (!json) write(text);
      },
    })
    .option('--json', 'print machine-readable JSON (errors as JSON on stderr)')
    .addOption(new Option('-o, --output <format>', 'output format (the reference CLI\'s flag)').choices(['json', 'table']))
    .option('--profile <name>', 'use this saved profile (default: the current one; env MOLECULE_PROFILE)')
    .option('--api-url <url>', "the org's URL (env MOLECULE_API_URL), e.g. http://acme.localhost:8080")
    .option('--cp-url <url>', 'the control plane URL (env MOLECULE_CP_URL; default http://localhost:8080)')
    .option('--org <id-or-slug>', 'the org to act on (env MOLECULE_ORG_ID / MOLECULE_ORG_SLUG)')
    .option('-y, --yes', 'skip confirmation prompts (needed for destructive commands without a terminal)');
  program.addHelpText(
    'after',
    `
Authentication (first match wins): MOLECULE_API_KEY (an org API key), MOLECULE_WORKSPACE_TOKEN, a saved profile
(\`molecule auth use-key\` / \`molecule auth login\`); for the control plane MOLECULE_PARTNER_KEY, MOLECULE_SESSION,
MOLECULE_CP_ADMIN_TOKEN or the profile's session.

Exit codes: 0 ok, 1 error, 2 cancelled, 3 usage, 4 unauthenticated, 5 forbidden, 6 not found, 7 conflict,
8 rate-limited, 9 server or network.

Examples:
  $ printf %s "$KEY" | molecule auth use-key --api-url http://acme.localhost:8080
  $ molecule workspace list
  $ molecule api GET /workspaces --json
`,
  );
  for (const register of COMMAND_GROUPS) register(program);
  return program;
}
