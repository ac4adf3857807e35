/**
 * The tenant's remote MCP endpoint: Streamable HTTP at `/mcp`, stateless (a server and a transport per request, JSON
 * answers, no session), as the MCP SDK's stateless examples do — GET and DELETE, which only a stateful server serves,
 * answer 405.
 *
 * The caller is authenticated from the Authorization header only (an org key, a workspace token or ADMIN_TOKEN; a
 * cookie is never read, so a browser cannot be made to call tools cross-site), before the body is even validated: an
 * unauthenticated caller never sees the tool list. The tools' SDK client sends each API call back through this app
 * (`app.inject`) with the caller's Authorization and org routing headers, so every tool call passes the same auth,
 * scoping, approval gate and audit trail as a direct call — the endpoint grants nothing the credential lacks.
 *
 * The tenant passes its authentication and rate limit in (`McpHttpOptions`): src/mcp imports only core/ and the SDK.
 */
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../core/http/app.js';
import { DomainError, type ErrorCode } from '../core/errors.js';
import { JsonObject, Text } from '../core/http/input.js';
import { errorResponses } from '../core/http/responses.js';
import { createTenantClient } from '../sdk/client.js';
import { resolveToolsets } from './catalogue.js';
import { createMcpServer } from './server.js';
import type { AuthSelf } from './tool.js';

export interface McpHttpOptions {
  /**
   * Authenticates the request from its Authorization header alone, sets `request.principal` (audit) and describes the
   * caller as GET /auth/self would; throws the API's 401 when the header is missing or invalid.
   */
  authenticate(request: FastifyRequest): Promise<AuthSelf>;
  /** Runs after authentication; throws 429 past the caller's limit. */
  rateLimit(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  version: string;
}

/** The caller's headers every inner call carries: its credential and org routing, nothing else of the outer request. */
const FORWARDED = ['authorization', 'x-molecule-org-id', 'x-molecule-org-slug', 'user-agent'] as const;

/** A fetch that serves the SDK's requests in-process, through every hook of the app, as the caller. */
export function injectFetch(app: App, outer: FastifyRequest): (request: Request) => Promise<Response> {
  const forwarded: Record<string, string> = {};
  for (const name of FORWARDED) {
    const value = outer.headers[name];
    if (typeof value === 'string') forwarded[name] = value;
  }
  return async (request) => {
    const url = new URL(request.url);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, key) => {
      headers[key] = value;
    });
    // The caller's credential always wins, and no cookie rides along.
    delete headers['cookie'];
    Object.assign(headers, forwarded);
    const payload = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const res = await app.inject({
      method: request.method as 'GET',
      url: url.pathname + url.search,
      headers,
      ...(payload ? { payload } : {}),
      // The audit trail records the real client's address, not loopback.
      remoteAddress: outer.ip,
    });
    const out = new Headers();
    for (const [key, value] of Object.entries(res.headers)) if (value !== undefined) out.set(key, Array.isArray(value) ? value.join(', ') : String(value));
    return new Response([101, 204, 205, 304].includes(res.statusCode) ? null : res.rawPayload, { status: res.statusCode, headers: out });
  };
}

const JsonRpcMessage = Type.Object(
  {
    jsonrpc: Type.Literal('2.0'),
    id: Type.Optional(Type.Union([Text({ maxLength: 200 }), Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }), Type.Null()])),
    // MCP method names: `initialize`, `tools/list`, `notifications/initialized`, …
    method: Type.Optional(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_\\./-]{0,199}$' })),
    params: Type.Optional(JsonObject({ description: 'The method\'s parameters (a tool call\'s name and arguments, …).' })),
    result: Type.Optional(Type.Unknown()),
    error: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true, description: 'One JSON-RPC 2.0 message of the Model Context Protocol (initialize, tools/list, tools/call, …).' },
);

const McpQuery = Type.Object({
  toolsets: Type.Optional(Text({ maxLength: 500, description: 'Comma-separated toolsets, or `all` (default: self, workspaces, secrets, approvals).' })),
  read_only: Type.Optional(Type.Boolean({ description: 'Only read-only tools.' })),
});

/**
 * The transport's HTTP-level refusals (a body that is not JSON-RPC, an Accept header without both JSON and SSE, …) in
 * the platform's one error body, so a client reads every 4xx of this server the same way; the JSON-RPC error the SDK
 * wrote travels beside it as `jsonrpc_error`. (JSON-RPC-level errors — an unknown tool, bad arguments — are 200s.)
 */
function transportError(status: number, text: string): DomainError {
  let rpc: { code?: unknown; message?: unknown } = {};
  try {
    rpc = (JSON.parse(text) as { error?: typeof rpc }).error ?? {};
  } catch {
    // not JSON: the status alone says it
  }
  const code: ErrorCode = status === 406 ? 'NOT_ACCEPTABLE' : status === 405 ? 'METHOD_NOT_ALLOWED' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status < 500 ? 'VALIDATION_FAILED' : 'INTERNAL';
  return new DomainError(code, typeof rpc.message === 'string' && code !== 'INTERNAL' ? rpc.message : undefined, code === 'INTERNAL' ? {} : { jsonrpc_error: rpc });
}

export function registerMcpHttp(app: App, opts: McpHttpOptions): void {
  const callers = new WeakMap<FastifyRequest, AuthSelf>();
  app.post(
    '/mcp',
    {
      // Authentication and the rate limit run before the body is validated: a stranger learns nothing, not even whether
      // the body was well-formed.
      preValidation: async (request, reply) => {
        callers.set(request, await opts.authenticate(request));
        await opts.rateLimit(request, reply);
      },
      schema: {
        operationId: 'mcp',
        tags: ['mcp'],
        summary: 'The Model Context Protocol endpoint (Streamable HTTP, stateless)',
        description:
          'Tools named like the reference management MCP’s, filtered by the credential (GET /auth/self). Authorization header only (an org API key, a workspace token or ADMIN_TOKEN; cookies are ignored). Each tool call is an API call made as the caller, with the same auth, approval gate and audit. Rate-limited per credential (MCP_RATE_LIMIT per minute). Answers are JSON (no SSE); a notification answers 202 with no body.',
        security: [{ orgApiKey: [] }, { workspaceToken: [] }, { adminToken: [] }],
        querystring: McpQuery,
        body: JsonRpcMessage,
        response: {
          200: Type.Unknown({ description: 'The JSON-RPC response.' }),
          202: Type.Null({ description: 'A notification or response was accepted.' }),
          ...errorResponses('TENANT_ORG_HEADER_REQUIRED', 'ADMIN_AUTH_REQUIRED', 'INVALID_ADMIN_AUTH', 'VALIDATION_FAILED', 'RATE_LIMITED', 'INTERNAL', 'platform_unavailable'),
        },
      },
    },
    async (request, reply) => {
      const self = callers.get(request);
      if (!self) throw new Error('/mcp reached its handler unauthenticated');
      let toolsets: string[] | undefined;
      if (request.query.toolsets !== undefined) {
        toolsets = request.query.toolsets.split(',');
        try {
          resolveToolsets(toolsets);
        } catch (err) {
          throw new DomainError('VALIDATION_FAILED', (err as Error).message, { field: 'toolsets' });
        }
      }
      const tenant = createTenantClient({ baseUrl: 'http://localhost', fetch: injectFetch(app, request), retry: { retries: 0 } });
      const server = createMcpServer({
        tenant,
        self,
        version: opts.version,
        ...(toolsets ? { toolsets } : {}),
        ...(request.query.read_only !== undefined ? { readOnly: request.query.read_only } : {}),
      });
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      try {
        await server.connect(transport);
        const headers = new Headers();
        for (const name of ['accept', 'content-type', 'mcp-protocol-version']) {
          const value = request.headers[name];
          if (typeof value === 'string') headers.set(name, value);
        }
        const body = JSON.stringify(request.body);
        const response = await transport.handleRequest(new Request(`http://localhost${request.url}`, { method: 'POST', headers, body }), { parsedBody: request.body });
        if (response.status >= 400) throw transportError(response.status, await response.text());
        reply.code(response.status as 200);
        response.headers.forEach((value, key) => {
          if (key !== 'content-length') reply.header(key, value);
        });
        const text = await response.text();
        // A string is sent as it is (the response schema does not reshape the JSON-RPC answer).
        return reply.send(text.length > 0 ? text : null);
      } finally {
        await transport.close();
        await server.close();
      }
    },
  );
  for (const method of ['GET', 'DELETE'] as const) {
    app.route({
      method,
      url: '/mcp',
      schema: {
        operationId: method === 'GET' ? 'mcpGetNotAllowed' : 'mcpDeleteNotAllowed',
        tags: ['mcp'],
        summary: `${method} /mcp: not served (stateless endpoint)`,
        description: 'The endpoint is stateless: no server-initiated stream (GET) and no session to end (DELETE). 405 with `Allow: POST`, as the MCP SDK’s stateless servers answer.',
        security: [],
        response: { ...errorResponses('TENANT_ORG_HEADER_REQUIRED', 'METHOD_NOT_ALLOWED') },
      },
      handler: async (_request, reply) => {
        reply.header('allow', 'POST');
        throw new DomainError('METHOD_NOT_ALLOWED', `${method} is not served: this MCP endpoint is stateless; POST JSON-RPC messages to it`);
      },
    });
  }
}
