import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { edgeTargetOf, hostnameOf, slugOfHost } from './routing.js';

const rule = { tenantDomain: 'localhost', cpHostname: 'localhost' };
const req = (host: string | undefined, path = '/workspaces', slugHeader?: string, cpHasRoute = false) => ({ host, slugHeader, path, cpHasRoute });

describe('edge routing rule', () => {
  it('reads the hostname of a Host header: lowercased, port and trailing dot dropped, IPv6 kept whole', () => {
    assert.equal(hostnameOf('Acme.LocalHost:8080'), 'acme.localhost');
    assert.equal(hostnameOf('acme.localhost.'), 'acme.localhost');
    assert.equal(hostnameOf('[::1]:8080'), '[::1]');
    assert.equal(hostnameOf(undefined), '');
  });

  it('a tenant host is exactly one non-reserved label under the tenant domain, never the CP’s own host', () => {
    assert.equal(slugOfHost('acme.localhost:8080', rule), 'acme');
    assert.equal(slugOfHost('ACME.localhost', rule), 'acme');
    assert.equal(slugOfHost('localhost:8080', rule), null, 'the domain itself is the CP');
    assert.equal(slugOfHost('a.b.localhost', rule), null, 'two labels are not a tenant host');
    assert.equal(slugOfHost('app.localhost', rule), null, 'reserved slugs name the platform’s own hosts');
    assert.equal(slugOfHost('acme.localhost.evil.example', rule), null);
    assert.equal(slugOfHost('acmelocalhost', rule), null);
    assert.equal(slugOfHost('127.0.0.1:8080', rule), null);
    assert.equal(slugOfHost('console.tenants.example', { tenantDomain: 'tenants.example', cpHostname: 'x.example' }), null);
    assert.equal(slugOfHost('cp.tenants.example', { tenantDomain: 'tenants.example', cpHostname: 'cp.tenants.example' }), null);
    assert.equal(slugOfHost('acme.tenants.example', { tenantDomain: 'tenants.example', cpHostname: 'cp.tenants.example' }), 'acme');
  });

  it('a tenant host takes every path, the CP’s own included', () => {
    for (const path of ['/workspaces', '/api/v1/auth/me', '/cp/orgs', '/health', '/']) {
      assert.deepEqual(edgeTargetOf(req('acme.localhost:8080', path, undefined, true), rule), { kind: 'tenant', slug: 'acme', by: 'host' });
    }
    // The Host wins over the header: the tenant's own guard judges a header naming another org.
    assert.deepEqual(edgeTargetOf(req('acme.localhost', '/workspaces', 'other'), rule), { kind: 'tenant', slug: 'acme', by: 'host' });
  });

  it('on the CP host the org header routes only paths that are not the CP’s', () => {
    assert.deepEqual(edgeTargetOf(req('127.0.0.1:8080', '/workspaces', 'acme'), rule), { kind: 'tenant', slug: 'acme', by: 'header' });
    assert.deepEqual(edgeTargetOf(req('localhost:8080', '/events/stream', 'acme'), rule), { kind: 'tenant', slug: 'acme', by: 'header' });
    for (const path of ['/api/v1', '/api/v1/orgs', '/cp', '/cp/orgs', '/api/v1/does-not-exist']) {
      assert.deepEqual(edgeTargetOf(req('localhost:8080', path, 'acme'), rule), { kind: 'cp' }, path);
    }
    // A path the CP has a route for (/health, /metrics, /openapi.json, its pages) stays the CP's.
    assert.deepEqual(edgeTargetOf(req('localhost:8080', '/health', 'acme', true), rule), { kind: 'cp' });
    assert.deepEqual(edgeTargetOf(req('localhost:8080', '/api/v1x', 'acme'), rule), { kind: 'tenant', slug: 'acme', by: 'header' });
  });

  it('without a tenant host or an org header, everything is the CP’s', () => {
    assert.deepEqual(edgeTargetOf(req('localhost:8080', '/workspaces'), rule), { kind: 'cp' });
    assert.deepEqual(edgeTargetOf(req('localhost:8080', '/workspaces', ''), rule), { kind: 'cp' });
    assert.deepEqual(edgeTargetOf(req(undefined, '/workspaces'), rule), { kind: 'cp' });
  });
});
