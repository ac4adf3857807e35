import pg from 'pg';

/**
 * One database and one login role per tenant on a shared PostgreSQL server (DESIGN.md §3): the provisioner connects
 * as a superuser (the embedded server's admin URL, or TENANT_DATABASE_URL), the tenant connects as its own role,
 * which owns its database and nothing else; `CONNECT` is revoked from PUBLIC, so one tenant's role cannot open
 * another tenant's database.
 */

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertDatabaseName(name: string): void {
  if (!NAME.test(name)) throw new Error(`invalid database name ${JSON.stringify(name)}: lower-case letters, digits and _, up to 63`);
}

/** `tenant_<slug>_<8 hex of the org id>`: readable in `psql \l`, unique per org even when a slug is reused later. */
export function tenantDatabaseName(slug: string, orgId: string): string {
  const name = `tenant_${slug.replace(/-/g, '_')}_${orgId.replace(/-/g, '').slice(0, 8)}`.toLowerCase();
  assertDatabaseName(name);
  return name;
}

async function withAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates (or brings back in line) the tenant's role with `password` and its database owned by that role; returns
 * the URL the tenant connects with. Idempotent: a retried provisioning reuses what an earlier attempt created.
 */
export async function ensureTenantDatabase(adminUrl: string, name: string, password: string): Promise<string> {
  assertDatabaseName(name);
  await withAdmin(adminUrl, async (client) => {
    const role = client.escapeIdentifier(name);
    const secret = client.escapeLiteral(password);
    const hasRole = await client.query('select 1 from pg_roles where rolname = $1', [name]);
    if (hasRole.rowCount) await client.query(`alter role ${role} with login password ${secret}`);
    else await client.query(`create role ${role} with login nosuperuser nocreatedb nocreaterole password ${secret}`);
    const hasDb = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!hasDb.rowCount) {
      try {
        await client.query(`create database ${role} owner ${role}`);
      } catch (err) {
        if ((err as { code?: string }).code !== '42P04') throw err; // created concurrently
      }
    }
    await client.query(`revoke connect, temporary on database ${role} from public`);
    await client.query(`grant connect, temporary on database ${role} to ${role}`);
  });
  const url = new URL(adminUrl);
  url.username = name;
  url.password = password;
  url.pathname = `/${name}`;
  url.search = '';
  return url.toString();
}

/** Drops the tenant's database (ending its sessions) and its role; idempotent. */
export async function dropTenantDatabase(adminUrl: string, name: string): Promise<void> {
  assertDatabaseName(name);
  await withAdmin(adminUrl, async (client) => {
    const role = client.escapeIdentifier(name);
    await client.query(`drop database if exists ${role} with (force)`);
    await client.query(`drop role if exists ${role}`);
  });
}

/** Whether the tenant's database exists (for diagnostics and the "nothing left" checks). */
export async function tenantDatabaseExists(adminUrl: string, name: string): Promise<boolean> {
  assertDatabaseName(name);
  return withAdmin(adminUrl, async (client) => Boolean((await client.query('select 1 from pg_database where datname = $1', [name])).rowCount));
}

/** The names of every tenant database on the server (`tenant_…`). */
export async function tenantDatabases(adminUrl: string): Promise<string[]> {
  return withAdmin(adminUrl, async (client) => (await client.query<{ datname: string }>("select datname from pg_database where datname like 'tenant\\_%'")).rows.map((r) => r.datname));
}
