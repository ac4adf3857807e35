import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { newUuid } from '../../src/core/ids.js';

/**
 * A real HTTP server playing the control plane's `GET /cp/auth/tenant-member?org_id=` (the contract tier 1
 * depends on). It answers from a table of sessions, counts calls, and can be told to hang, fail, or misbehave.
 */
export class FakeControlPlane {
  /** session value → the membership it proves. */
  readonly members = new Map<string, { user_id: string; role: string; org_id: string }>();
  calls: Array<{ path: string; orgId: string | null; slug: string | null; cookie: string | undefined; userAgent: string | undefined }> = [];
  /**
   * 'wrong-org' answers yes with another org's id (a CP that ignored the question); 'no-org-id' answers yes with no
   * org id at all (the reference CP's shape); 'slow' holds every answer until `release()`.
   */
  mode: 'normal' | 'hang' | 'error500' | 'wrong-org' | 'no-org-id' | 'slow' = 'normal';
  private held: Array<() => void> = [];
  private server!: Server;
  url = '';

  async start() {
    this.server = createServer((req: IncomingMessage, res) => {
      const u = new URL(req.url ?? '/', 'http://cp');
      const orgId = u.searchParams.get('org_id');
      this.calls.push({ path: u.pathname, orgId, slug: u.searchParams.get('slug'), cookie: req.headers.cookie, userAgent: req.headers['user-agent'] });
      if (u.pathname !== '/cp/auth/tenant-member') {
        res.writeHead(404).end();
        return;
      }
      if (this.mode === 'hang') return; // never answers: the verifier's timeout must fire
      if (this.mode === 'error500') {
        res.writeHead(500).end('boom');
        return;
      }
      const answer = () => {
        const session = /mcp_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
        const m = session ? this.members.get(session) : undefined;
        if (!m) {
          res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not authenticated' }));
          return;
        }
        const json = (body: object) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        if (this.mode === 'wrong-org') return json({ member: true, user_id: m.user_id, role: m.role, org_id: newUuid() });
        if (this.mode === 'no-org-id') return json({ member: true, user_id: m.user_id, role: m.role });
        if (m.org_id !== orgId) return json({ member: false });
        json({ member: true, user_id: m.user_id, role: m.role, org_id: m.org_id });
      };
      if (this.mode === 'slow') this.held.push(answer);
      else answer();
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  /** Answers every held request. */
  release() {
    for (const answer of this.held.splice(0)) answer();
  }
  async stop() {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

