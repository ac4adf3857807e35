/**
 * `molecule mcp`: the MCP server over stdio. stdout carries the protocol and nothing else (a stray line would corrupt
 * it), so this module writes nothing there itself; diagnostics go to stderr.
 */
import type { Readable, Writable } from 'node:stream';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createControlPlaneClient, createTenantClient, type ClientOptions, type ControlPlaneClient, type TenantClient } from '../sdk/index.js';
import { createMcpServer } from './server.js';
import type { AuthSelf } from './tool.js';

export interface McpStdioOptions {
  /** The tenant (org key or workspace token, org routing header): its tools are scoped by GET /auth/self. */
  tenant?: ClientOptions;
  /** The control plane (a session or a partner key): the orgs, members and billing toolsets. */
  controlPlane?: Omit<ClientOptions, 'orgId' | 'orgSlug'>;
  readOnly?: boolean;
  toolsets?: string[];
  version?: string;
  /** Defaults to the process's stdin/stdout. */
  stdin?: Readable;
  stdout?: Writable;
}

/** Serves until stdin closes. Throws (before serving) when the tenant credential is refused or a toolset is unknown. */
export async function runMcpStdio(options: McpStdioOptions): Promise<void> {
  if (!options.tenant && !options.controlPlane) throw new Error('molecule mcp needs a tenant (MOLECULE_API_URL and MOLECULE_API_KEY) or a control-plane credential');
  let tenant: TenantClient | undefined;
  let self: AuthSelf | undefined;
  if (options.tenant) {
    tenant = createTenantClient(options.tenant);
    // The tool list follows the credential; a refused credential stops here with the server's message.
    self = (await tenant.GET('/auth/self')).data;
  }
  const controlPlane: ControlPlaneClient | undefined = options.controlPlane ? createControlPlaneClient(options.controlPlane) : undefined;
  const server = createMcpServer({
    ...(tenant ? { tenant } : {}),
    ...(self ? { self } : {}),
    ...(controlPlane ? { controlPlane } : {}),
    ...(options.readOnly !== undefined ? { readOnly: options.readOnly } : {}),
    ...(options.toolsets ? { toolsets: options.toolsets } : {}),
    ...(options.version ? { version: options.version } : {}),
  });
  const transport = new StdioServerTransport(options.stdin, options.stdout);
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
  });
  await server.connect(transport);
  const input: Readable = options.stdin ?? process.stdin;
  await new Promise<void>((resolve) => {
    input.once('end', resolve);
    input.once('close', resolve);
    void closed.then(resolve);
  });
  await server.close();
}
