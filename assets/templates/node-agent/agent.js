// A Node agent with no dependencies: it asks its tenant who it is (GET /workspaces/:id with its own workspace
// token), says so, and keeps running until the runtime stops it. The platform sets WORKSPACE_ID, PLATFORM_URL,
// MOLECULE_WORKSPACE_TOKEN and MOLECULE_ORG_ID (the routing header a multi-org tenant asks for).
'use strict';

const id = process.env.WORKSPACE_ID;
const base = process.env.PLATFORM_URL;
const token = process.env.MOLECULE_WORKSPACE_TOKEN;
const headers = { authorization: `Bearer ${token}` };
if (process.env.MOLECULE_ORG_ID) headers['x-molecule-org-id'] = process.env.MOLECULE_ORG_ID;

async function whoAmI() {
  const res = await fetch(`${base}/workspaces/${id}`, { headers, signal: AbortSignal.timeout(10_000) });
  const body = await res.json().catch(() => ({}));
  if (res.status !== 200) throw new Error(`GET /workspaces/${id} answered ${res.status}: ${body.error ?? ''}`);
  return body;
}

async function main() {
  for (let attempt = 0; ; attempt++) {
    try {
      const me = await whoAmI();
      console.log(`node-agent: reached the tenant as workspace "${me.name}" (${me.id}), status ${me.status}`);
      break;
    } catch (err) {
      console.error(`node-agent: ${err.message}; retrying`);
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
    }
  }
  // Stay up: a real agent would wait for tasks here.
  setInterval(() => console.log(`node-agent: alive at ${new Date().toISOString()}`), 30_000);
}

process.on('SIGTERM', () => process.exit(0));
void main();
