/**
 * How the platform serves the web console (src/core/http/console.ts), without a browser or a Vite build: a clear 503
 * `CONSOLE_NOT_BUILT` when dist/web is absent, the page's meta facts filled in (escaped), the strict CSP and cache
 * headers, and asset names that cannot leave the build folder.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import type { App } from '../src/core/http/app.js';
import { CONSOLE_CSP, registerConsole } from '../src/core/http/console.js';

const INDEX = `<!doctype html><html><head><meta name="molecule-org-slug" content="" />
<meta name="molecule-oidc" content="" /><script type="module" src="/_console/index-abc123.js"></script></head><body></body></html>`;

async function appOn(root: string, options: Partial<Parameters<typeof registerConsole>[1]> = {}) {
  const app = Fastify();
  registerConsole(app as unknown as App, { pages: ['/app', '/app/*'], redirects: { '/': '/app/' }, root, ...options });
  await app.ready();
  return app;
}

describe('console serving', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'molecule-web-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('answers 503 CONSOLE_NOT_BUILT naming the command when there is no build', async () => {
    const app = await appOn(path.join(dir, 'missing'));
    for (const url of ['/app/', '/app/settings/keys', '/_console/index-abc123.js']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 503, url);
      assert.equal(res.json().code, 'CONSOLE_NOT_BUILT');
      assert.equal(res.json().error, 'console not built: run npm run build:web');
    }
    const root = await app.inject({ method: 'GET', url: '/' });
    assert.equal(root.statusCode, 302);
    assert.equal(root.headers['location'], '/app/');
    await app.close();
  });

  it('serves the page with its facts as escaped meta tags, no-cache and the strict CSP; assets long-cached', async () => {
    const root = path.join(dir, 'built');
    mkdirSync(path.join(root, '_console'), { recursive: true });
    writeFileSync(path.join(root, 'index.html'), INDEX);
    writeFileSync(path.join(root, '_console', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(path.join(dir, 'secret.js'), 'outside');
    const app = await appOn(root, { orgSlug: 'acme', oidcProvider: 'corp"><script>x</script>' });
    const page = await app.inject({ method: 'GET', url: '/app/settings/keys' });
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /^text\/html/);
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.equal(page.headers['content-security-policy'], CONSOLE_CSP);
    assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval/);
    assert.match(CONSOLE_CSP, /script-src 'self'; style-src 'self'/);
    assert.match(page.body, /<meta name="molecule-org-slug" content="acme" \/>/);
    assert.match(page.body, /<meta name="molecule-oidc" content="corp&#34;&#62;&#60;script&#62;x&#60;\/script&#62;" \/>/);
    assert.doesNotMatch(page.body, /<script>x/);

    const asset = await app.inject({ method: 'GET', url: '/_console/index-abc123.js' });
    assert.equal(asset.statusCode, 200);
    assert.equal(asset.body, 'console.log(1)');
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.match(asset.headers['content-type'] as string, /^text\/javascript/);

    for (const url of ['/_console/..%2Fsecret.js', '/_console/%2e%2e%2fsecret.js', '/_console/missing-abc.js', '/_console/index.html', '/_console/.hidden.js']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.json().code, 'NOT_FOUND', url);
      assert.doesNotMatch(res.body, /outside/);
    }
    await app.close();
  });
});
