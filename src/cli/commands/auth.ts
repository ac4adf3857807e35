import { Option, type Command } from 'commander';
import { passwordLogin, deviceLogin, mintManagedKey, pickOrg } from '../auth/login.js';
import { keyPrefix, saveProfile, signInTarget, tenantUrl } from '../auth/target.js';
import { action, examples } from '../command.js';
import { readCredentials, writeCredentials, PROFILE_NAME, type Profile } from '../config.js';
import type { ManagedProfile } from '../context.js';
import { CliError, EXIT, exitCodeFor } from '../exit-codes.js';
import { describeError } from '../output.js';
import { confirm, readSecret } from '../prompts.js';

function checkProfileName(name: string): void {
  if (!PROFILE_NAME.test(name)) throw new CliError(`profile name "${name}" must be letters, digits, ".", "_" or "-"`, EXIT.USAGE);
}

/** `molecule auth …`, like `gh auth`: sign in with an org key or through the control plane, status, switch, logout. */
export function register(program: Command): void {
  const auth = program.command('auth').description('sign in (an org API key, or your account through the control plane), see who you are, switch profiles, sign out');
  examples(auth, ['molecule auth login', 'printf %s "$KEY" | molecule auth use-key --api-url http://acme.localhost:8080', 'molecule auth status']);

  examples(
    auth
      .command('use-key')
      .description("save an org API key (read from stdin or a masked prompt, never the command line) after checking it works")
      .action(
        action(async (ctx) => {
          const target = signInTarget(ctx);
          checkProfileName(target.profileName);
          const apiUrl = tenantUrl(target, target.orgSlug);
          if (!apiUrl) throw new CliError('which org? pass --api-url (the org\'s URL) or --org <slug> (or set MOLECULE_API_URL)', EXIT.USAGE, 'NO_ORG');
          const key = (await readSecret('Org API key')).trim();
          // Checked before anything is saved: a wrong key exits 4 and leaves the profile as it was.
          const { data: self } = await ctx.tenantClientWith(apiUrl, { type: key.startsWith('molw_') ? 'workspace-token' : 'org-key', token: key }, { orgId: target.orgId, orgSlug: target.orgSlug }).GET('/auth/self');
          const profile: Profile = {
            ...(target.existing.cp_url || ctx.options.cpUrl ? { cp_url: target.cpUrl } : {}),
            api_url: apiUrl,
            ...(target.orgId ? { org_id: target.orgId } : {}),
            ...(target.orgSlug ? { org_slug: target.orgSlug } : {}),
            ...(target.existing.session ? { session: target.existing.session, session_expires_at: target.existing.session_expires_at ?? null } : {}),
            ...(target.existing.user_email ? { user_email: target.existing.user_email } : {}),
            api_key: key,
            key_managed: false,
          };
          saveProfile(ctx, target.profileName, profile);
          if (ctx.out.json) return ctx.out.data({ profile: target.profileName, api_url: apiUrl, org_id: target.orgId, org_slug: target.orgSlug, key_prefix: keyPrefix(key), role: self?.role ?? null, expires_at: self?.expires_at ?? null, credentials_file: ctx.credentialsFile });
          ctx.out.success(`saved key ${keyPrefix(key)}… (role ${self?.role ?? 'unknown'}${self?.expires_at ? `, expires ${self.expires_at}` : ', no expiry'}) for ${apiUrl} in profile ${target.profileName} (${ctx.credentialsFile})`);
        }),
      ),
    [
      'printf %s "$MOLECULE_API_KEY" | molecule auth use-key --api-url http://acme.localhost:8080',
      'molecule auth use-key --org acme   # asks for the key, masked',
      'molecule auth use-key --profile staging --api-url https://acme.staging.example.com < key.txt',
    ],
  );

  examples(
    auth
      .command('login')
      .description('sign in to your account (device code in the browser, or --email with a password), then mint a short-lived org key for the CLI')
      .option('--email <email>', 'sign in with email and password (the password from stdin or a masked prompt) instead of the browser')
      .option('--no-browser', 'print the URL and code, do not open a browser')
      .addOption(new Option('--role <role>', "the CLI key's role").choices(['admin', 'editor', 'reader']).default('admin'))
      .action(
        action(async (ctx, opts: { email?: string; browser: boolean; role: 'admin' | 'editor' | 'reader' }) => {
          const target = signInTarget(ctx);
          checkProfileName(target.profileName);
          const session = opts.email
            ? await passwordLogin(ctx, target.cpUrl, opts.email, await readSecret(`Password for ${opts.email}`))
            : await deviceLogin(ctx, target.cpUrl, { browser: opts.browser });
          if (!session.email) {
            const { data } = await ctx.cpClientWith(target.cpUrl, { type: 'session', token: session.token }).GET('/api/v1/auth/me');
            session.email = data?.email ?? null;
          }
          const org = await pickOrg(ctx, target, session, target.cpUrl);
          const apiUrl = tenantUrl(target, org.slug)!;
          const profile = await mintManagedKey(ctx, target, session, org, apiUrl, opts.role);
          saveProfile(ctx, target.profileName, profile);
          const summary = {
            profile: target.profileName,
            user: session.email,
            org_id: org.id,
            org_slug: org.slug,
            api_url: apiUrl,
            cp_url: target.cpUrl,
            key: { id: profile.key_id, prefix: profile.key_prefix, role: profile.key_role, expires_at: profile.key_expires_at },
            credentials_file: ctx.credentialsFile,
          };
          if (ctx.out.json) return ctx.out.data(summary);
          ctx.out.success(`signed in as ${session.email ?? 'you'} to org ${org.slug} (${apiUrl}), profile ${target.profileName}`);
          ctx.out.note(`the CLI's key ${profile.key_prefix} (${profile.key_role}) expires ${profile.key_expires_at} and is renewed while you keep using it`);
        }),
      ),
    ['molecule auth login', 'molecule auth login --org acme --no-browser', 'printf %s "$PASSWORD" | molecule auth login --email me@example.com --org acme'],
  );

  examples(
    auth
      .command('status')
      .description('who you are and where: the profile, the credentials file, the org, the key (never a secret) and the account')
      .action(
        action(async (ctx) => {
          const r = ctx.resolve();
          const p = r.profile as ManagedProfile;
          const status: Record<string, unknown> = {
            profile: r.profileName,
            credentials_file: ctx.credentialsFile,
            api_url: r.tenantUrl,
            cp_url: r.cpUrl,
            org_id: r.orgId,
            org_slug: r.orgSlug,
            credential: r.tenantCredential ? { type: r.tenantCredential.type, source: r.tenantCredentialSource, prefix: r.tenantCredential.type === 'session' ? null : keyPrefix(r.tenantCredential.token) } : null,
            key_managed: Boolean(p.key_managed),
            key_expires_at: r.tenantCredential?.token === p.api_key ? (p.key_expires_at ?? null) : null,
            key_role: r.tenantCredential?.token === p.api_key ? (p.key_role ?? null) : null,
            tenant: null as unknown,
            user: null as unknown,
          };
          let failure: unknown = null;
          if (r.tenantUrl && r.tenantCredential) {
            try {
              // What the server says the credential is: its class, role, binding and expiry (GET /auth/self).
              const { data } = await ctx.tenant().GET('/auth/self');
              status['tenant'] = { ok: true, class: data?.class, role: data?.role, workspace_ids: data?.workspace_ids ?? null, expires_at: data?.expires_at ?? null, name: data?.name ?? null, prefix: data?.prefix ?? null };
              status['key_role'] = data?.role ?? status['key_role'];
              status['key_expires_at'] = data?.expires_at ?? status['key_expires_at'];
            } catch (err) {
              failure = err;
              const d = describeError(err);
              status['tenant'] = { ok: false, error: d.message, code: d.code, request_id: d.requestId };
            }
          }
          if (r.cpCredential?.type === 'session') {
            try {
              const { data } = await ctx.cp().GET('/api/v1/auth/me');
              status['user'] = { ok: true, email: data?.email, user_id: data?.user_id };
            } catch (err) {
              failure ??= err;
              const d = describeError(err);
              status['user'] = { ok: false, error: d.message, code: d.code, request_id: d.requestId };
            }
          }
          if (!r.tenantCredential && !r.cpCredential) failure = new CliError('not signed in', EXIT.UNAUTHENTICATED, 'NOT_AUTHENTICATED');
          if (ctx.out.json) ctx.out.data(status);
          else {
            const cred = status['credential'] as { type: string; source: string; prefix: string | null } | null;
            const tenant = status['tenant'] as { ok: boolean; class?: string; workspace_ids?: string[] | null; error?: string } | null;
            const user = status['user'] as { ok: boolean; email?: string; error?: string } | null;
            ctx.out.record({
              profile: r.profileName,
              'credentials file': ctx.credentialsFile,
              org: r.orgSlug ?? r.orgId,
              'org URL': r.tenantUrl,
              credential: cred ? `${cred.type}${cred.prefix ? ` ${cred.prefix}…` : ''}${status['key_role'] ? `, role ${String(status['key_role'])}` : ''} (from ${cred.source})` : 'none',
              'key expires': status['key_expires_at'] ? `${String(status['key_expires_at'])}${p.key_managed ? ' (renewed automatically)' : ''}` : null,
              'org check': tenant ? (tenant.ok ? `ok (${tenant.class}${tenant.workspace_ids ? `, bound to ${tenant.workspace_ids.length} workspace(s)` : ''})` : `failed: ${tenant.error}`) : null,
              'control plane': r.cpUrl,
              account: user ? (user.ok ? user.email : `failed: ${user.error}`) : (p.user_email ?? null),
            });
          }
          if (failure) process.exitCode = exitCodeFor(failure);
        }),
      ),
    ['molecule auth status', 'molecule auth status --json | jq .credential', 'molecule auth status --profile staging'],
  );

  examples(
    auth
      .command('switch <profile>')
      .description('make another saved profile the current one')
      .action(
        action(async (ctx, name: string) => {
          const data = readCredentials(ctx.credentialsFile);
          if (!data.profiles[name]) {
            const names = Object.keys(data.profiles);
            throw new CliError(`no profile named "${name}"${names.length ? ` — saved: ${names.join(', ')}` : ''}`, EXIT.NOT_FOUND, 'PROFILE_NOT_FOUND');
          }
          data.current = name;
          writeCredentials(data, ctx.credentialsFile);
          if (ctx.out.json) return ctx.out.data({ current: name });
          ctx.out.success(`now using profile ${name}`);
        }),
      ),
    ['molecule auth switch staging', 'molecule auth switch default'],
  );

  examples(
    auth
      .command('terms')
      .description('show whether your account has accepted the current terms of service; --accept accepts them (creating orgs needs it)')
      .option('--accept', 'accept the current version (asks on a terminal; --yes elsewhere)')
      .action(
        action(async (ctx, opts: { accept?: boolean }) => {
          const cp = ctx.cp();
          let { data } = await cp.GET('/api/v1/auth/terms-status');
          if (opts.accept && !data?.accepted) {
            await confirm(ctx, `Accept the terms of service, version ${data?.version ?? '?'}?`);
            ({ data } = await cp.POST('/api/v1/auth/accept-terms', { body: { ...(data?.version ? { version: data.version } : {}) } }));
          }
          if (ctx.out.json) return ctx.out.data(data);
          if (data?.accepted) ctx.out.success(`terms of service version ${data.version} accepted`);
          else ctx.out.note(`the terms of service version ${data?.version ?? '?'} are not accepted yet${data?.accepted_version ? ` (you accepted ${data.accepted_version})` : ''}: run \`molecule auth terms --accept\``);
        }),
      ),
    ['molecule auth terms', 'molecule auth terms --accept', 'molecule auth terms --accept --yes --json'],
  );

  examples(
    auth
      .command('logout')
      .description("sign out: revoke the CLI's own key, end the session, and remove both from the profile")
      .action(
        action(async (ctx) => {
          const target = signInTarget(ctx);
          const data = readCredentials(ctx.credentialsFile);
          const p = data.profiles[target.profileName] as ManagedProfile | undefined;
          if (!p || (!p.api_key && !p.session)) throw new CliError(`profile ${target.profileName} holds no credentials`, EXIT.UNAUTHENTICATED, 'NOT_AUTHENTICATED');
          const done: string[] = [];
          if (p.key_managed && p.key_id && p.api_key && p.api_url) {
            // A key may revoke itself. A key the user gave (`use-key`) is theirs: it is only forgotten here.
            try {
              await ctx.tenantClientWith(p.api_url, { type: 'org-key', token: p.api_key }, { orgId: p.org_id ?? null, orgSlug: p.org_slug ?? null }).DELETE('/org/tokens/{id}', { params: { path: { id: p.key_id } } });
              done.push(`revoked key ${p.key_prefix ?? keyPrefix(p.api_key)}`);
            } catch (err) {
              ctx.out.warn(`could not revoke the CLI's key (${describeError(err).message}); it expires ${p.key_expires_at ?? 'never'}`);
            }
          }
          if (p.session && p.cp_url) {
            try {
              await ctx.cpClientWith(p.cp_url, { type: 'session', token: p.session }).POST('/api/v1/auth/signout');
              done.push('signed out of the control plane');
            } catch (err) {
              ctx.out.warn(`could not end the session on the control plane (${describeError(err).message})`);
            }
          }
          const kept: ManagedProfile = { ...p };
          for (const k of ['api_key', 'key_id', 'key_expires_at', 'key_created_at', 'key_prefix', 'key_role', 'key_managed', 'session', 'session_expires_at', 'user_email'] as const) delete kept[k];
          data.profiles[target.profileName] = kept;
          writeCredentials(data, ctx.credentialsFile);
          if (ctx.out.json) return ctx.out.data({ profile: target.profileName, done });
          ctx.out.success(`signed out of profile ${target.profileName}${done.length ? ` (${done.join('; ')})` : ''}`);
        }),
      ),
    ['molecule auth logout', 'molecule auth logout --profile staging'],
  );
}
