import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadControlPlaneConfig } from '../control-plane/config.js';
import { loadTenantConfig } from '../tenant/config.js';
import { ConfigError } from './config.js';

describe('tenant configuration', () => {
  it('applies defaults and freezes the result', () => {
    const c = loadTenantConfig({});
    assert.equal(c.PORT, 8080);
    assert.equal(c.HOST, '127.0.0.1');
    assert.equal(c.MOLECULE_DATA_DIR, './.molecule');
    assert.equal(c.ORG_TOKEN_MINT_LIMIT, 10);
    assert.equal(c.DATABASE_URL, undefined);
    assert.ok(Object.isFrozen(c));
  });

  it('reports every bad key at once', () => {
    try {
      loadTenantConfig({ PORT: '99999', MOLECULE_ORG_ID: 'acme', DATABASE_URL: 'not a url', SECRETS_ENCRYPTION_KEY: 'short', MOLECULE_ENV: 'staging' });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(
        err.problems.map((p) => p.split(':')[0]),
        ['PORT', 'DATABASE_URL', 'MOLECULE_ORG_ID', 'SECRETS_ENCRYPTION_KEY', 'MOLECULE_ENV'],
      );
    }
  });

  it('SECRETS_ENCRYPTION_KEY: refuses a raw 32-character string and a low-entropy key at boot, saying how to generate one', () => {
    const problemFor = (env: Record<string, string>) => {
      try {
        loadTenantConfig(env);
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.problems;
      }
      return [];
    };
    const raw = problemFor({ SECRETS_ENCRYPTION_KEY: 'abcdefghijklmnopqrstuvwxyz012345' });
    assert.equal(raw.length, 1);
    assert.match(raw[0]!, /^SECRETS_ENCRYPTION_KEY: must be 32 random bytes, base64-encoded .*openssl rand -base64 32.*SECRETS_ENCRYPTION_KEYS_PREVIOUS/);
    const weak = problemFor({ SECRETS_ENCRYPTION_KEY: Buffer.alloc(32, 0x41).toString('base64') });
    assert.equal(weak.length, 1);
    assert.match(weak[0]!, /^SECRETS_ENCRYPTION_KEY: is not random enough: .*openssl rand -base64 32/);
    assert.deepEqual(problemFor({ SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64url') }), []);
    // Earlier keys only decrypt: the legacy raw form is accepted there (to rotate away from it), garbage is not.
    assert.deepEqual(problemFor({ SECRETS_ENCRYPTION_KEYS_PREVIOUS: 'abcdefghijklmnopqrstuvwxyz012345' }), []);
    const prev = problemFor({ SECRETS_ENCRYPTION_KEYS_PREVIOUS: `${randomBytes(32).toString('base64')},nope` });
    assert.equal(prev.length, 1);
    assert.match(prev[0]!, /^SECRETS_ENCRYPTION_KEYS_PREVIOUS: entry 2 must be 32 random bytes/);
  });

  it('normalises values: trailing slashes off URLs, UUIDs lower-cased, blanks as unset', () => {
    const c = loadTenantConfig({ CP_UPSTREAM_URL: 'http://cp.local:8080/', MOLECULE_ORG_ID: 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE', ADMIN_TOKEN: '   ' });
    assert.equal(c.CP_UPSTREAM_URL, 'http://cp.local:8080');
    assert.equal(c.MOLECULE_ORG_ID, 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee');
    assert.equal(c.ADMIN_TOKEN, undefined);
  });

  it('refuses CP_UPSTREAM_URL without MOLECULE_ORG_ID, telling the operator what to set', () => {
    // Tier 1 proves membership of one org by its id; without the id a session could only be checked by slug,
    // and slugs are reused once an org is deleted.
    try {
      loadTenantConfig({ CP_UPSTREAM_URL: 'http://cp.local:8080' });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 1);
      assert.match(err.problems[0]!, /^MOLECULE_ORG_ID: required when CP_UPSTREAM_URL is set; set it to the UUID of the org this tenant serves/);
    }
    assert.equal(loadTenantConfig({ CP_UPSTREAM_URL: 'http://cp.local:8080', MOLECULE_ORG_ID: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee' }).CP_UPSTREAM_URL, 'http://cp.local:8080');
  });

  it('parses the tenant’s own-origin settings: TENANT_DOMAIN (a domain) and CP_PUBLIC_URL (an http(s) origin)', () => {
    const c = loadTenantConfig({ TENANT_DOMAIN: 'tenants.example', CP_PUBLIC_URL: 'https://app.example/' });
    assert.equal(c.TENANT_DOMAIN, 'tenants.example');
    assert.equal(c.CP_PUBLIC_URL, 'https://app.example');
    try {
      loadTenantConfig({ TENANT_DOMAIN: 'https://tenants.example', CP_PUBLIC_URL: 'postgres://db/x' });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems.map((p) => p.split(':')[0]), ['TENANT_DOMAIN', 'CP_PUBLIC_URL']);
    }
  });
});

describe('control plane configuration', () => {
  it('tombstones purged slugs for 30 days by default; SLUG_TOMBSTONE_DAYS sets it (0 turns it off)', () => {
    assert.equal(loadControlPlaneConfig({}).SLUG_TOMBSTONE_DAYS, 30);
    assert.equal(loadControlPlaneConfig({ SLUG_TOMBSTONE_DAYS: '0' }).SLUG_TOMBSTONE_DAYS, 0);
    assert.equal(loadControlPlaneConfig({ SLUG_TOMBSTONE_DAYS: '365' }).SLUG_TOMBSTONE_DAYS, 365);
    assert.throws(() => loadControlPlaneConfig({ SLUG_TOMBSTONE_DAYS: '-1' }), /SLUG_TOMBSTONE_DAYS: must be an integer/);
  });
});
