#!/usr/bin/env node
import { ConfigError } from '../core/config.js';
import { isDatastoreOutage } from '../core/db/outage.js';
import { controlPlaneEnvSchema } from '../control-plane/config.js';
import { tenantEnvSchema } from '../tenant/config.js';

// Commands load what they need when they run: a workspace runtime (one process per workspace) must not pay for
// the server, the database drivers and the embedded PostgreSQL it never uses.
const startTenant = async (env: Record<string, string | undefined>) => (await import('../tenant/main.js')).startTenant(env);
const startControlPlane = async (env: Record<string, string | undefined>) => (await import('../control-plane/main.js')).startControlPlane(env);

/**
 * The server launcher. `main` owns process.exit and signals; everything it starts comes from the builders, which
 * tests and tools import directly.
 */

const USAGE = `molecule-platform <command>

Commands:
  cp        Run the control plane (users, orgs, members, billing, admin), configured by environment variables.
  tenant    Run one tenant server (one org), configured by environment variables.
  up        Run the whole platform on one machine (what npm start runs): the control plane and its edge on
            http://localhost:<PORT>, a demo org \`acme\` with its own tenant process, on the embedded PostgreSQL server
            (<MOLECULE_DATA_DIR>/pg; DATABASE_URL instead when set); prints credentials and first steps.
  runtime   Run one workspace runtime (started by a tenant; configured by WORKSPACE_ID, PLATFORM_URL, MOLECULE_WORKSPACE_TOKEN).
  help      Show this help.

Control plane environment:
${Object.entries(controlPlaneEnvSchema)
  .map(([k, f]) => `  ${k.padEnd(24)} ${f.describe}`)
  .join('\n')}

Tenant environment:
${Object.entries(tenantEnvSchema)
  .map(([k, f]) => `  ${k.padEnd(24)} ${f.describe}`)
  .join('\n')}
`;

interface Stoppable {
  logger: { info(obj: unknown, msg?: string): void; error(obj: unknown, msg?: string): void; fatal(obj: unknown, msg?: string): void };
  stop(): Promise<void>;
}

/**
 * The last resort, for a server process: a database outage must never end it (issue 8). Every place that touches
 * the database handles its own outages; should one slip through (a bug), it is logged loudly and the process
 * keeps serving — the database coming back heals it. Anything else still ends the process, as Node would.
 */
function survivesDatastoreOutages(logger: Stoppable['logger']) {
  const onEscaped = (kind: string) => (err: unknown) => {
    if (isDatastoreOutage(err)) {
      logger.error({ err }, `unhandled datastore outage (${kind}); a bug: it should have been handled where it happened. Still serving.`);
      return;
    }
    logger.fatal({ err }, kind);
    process.stderr.write(`molecule-platform: ${kind}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  };
  process.on('unhandledRejection', onEscaped('unhandled rejection'));
  process.on('uncaughtException', onEscaped('uncaught exception'));
}

function onSignals(running: Stoppable) {
  survivesDatastoreOutages(running.logger);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    running.logger.info({ signal }, 'shutting down');
    try {
      await running.stop();
      running.logger.info('stopped');
      process.exit(0);
    } catch (err) {
      running.logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

async function main(argv: string[]) {
  const command = argv[0] ?? 'help';
  switch (command) {
    case 'cp': {
      const running = await startControlPlane(process.env);
      onSignals(running);
      return;
    }
    case 'tenant': {
      const running = await startTenant(process.env);
      onSignals(running);
      return;
    }
    case 'up': {
      const { up } = await import('./up.js');
      onSignals(await up());
      return;
    }
    case 'runtime': {
      // One workspace's runtime, started by the tenant's provisioner; exits with the agent command's code.
      const { runWorkspaceRuntime } = await import('../runtime/main.js');
      process.exit(await runWorkspaceRuntime(process.env));
    }
    case 'secrets': {
      // `secrets rotate-key`: re-encrypt every stored secret to SECRETS_ENCRYPTION_KEY (see secrets/rotate-key.ts).
      if (argv[1] !== 'rotate-key') {
        process.stderr.write(
          'usage: molecule-platform secrets rotate-key\n\n' +
            '  Re-encrypts every stored secret to SECRETS_ENCRYPTION_KEY, reading old rows with SECRETS_ENCRYPTION_KEYS_PREVIOUS.\n' +
            '  Uses the tenant environment (DATABASE_URL or MOLECULE_DATA_DIR). Idempotent; on PostgreSQL tenants keep serving.\n',
        );
        process.exit(2);
      }
      const { describeRotation, rotateSecretsKey } = await import('../tenant/secrets/rotate-key.js');
      const result = await rotateSecretsKey(process.env);
      process.stdout.write(`${describeRotation(result)}\n`);
      if (result.failed.length > 0) process.exit(1);
      return;
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
  } else {
    process.stderr.write(`molecule-platform: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exit(1);
});
