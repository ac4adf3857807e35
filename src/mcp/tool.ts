/**
 * What one MCP tool is: its name (verb_noun, the reference management MCP's where it has one), its annotations, the
 * toolset it belongs to, what the credential must be able to do for it to be listed, and a handler that calls the
 * API through the SDK only (DESIGN.md §7). The server (./server.ts) filters the catalogue by credential and wraps
 * every handler with the binding check, the typed-name confirmation and the error mapping.
 */
import * as z from 'zod/v4';
import type { ControlPlaneClient, TenantClient, TenantPaths } from '../sdk/client.js';

export type AuthSelf = TenantPaths['/auth/self']['get']['responses'][200]['content']['application/json'];
export type Role = AuthSelf['role'];

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** Where a tool acts: its service, and for the tenant how far a workspace binding lets it go. */
export type ToolScope =
  /** Org-wide (a route declared orgWide, or a collection a bound key cannot use): hidden from bound credentials. */
  | 'org'
  /** Names one workspace in `workspace_id`: a bound credential may call it for its own workspaces only. */
  | 'workspace'
  /** Serves any credential and filters server-side (list_workspaces, whoami). */
  | 'any'
  /** A control-plane tool: listed only when the server was given a control-plane client. */
  | 'cp';

export interface ToolContext {
  tenant: TenantClient;
  cp: ControlPlaneClient;
  self: AuthSelf | null;
}

export interface ToolDef<Shape extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  toolset: string;
  /** The least tenant role the route it calls declares (its `minRole`); control-plane tools say `reader`/`editor` for read/write. */
  minRole: Role;
  scope: ToolScope;
  /** True when the route is in the workspace tier, which a workspace's own token may use. */
  workspaceToken: boolean;
  annotations: ToolAnnotations;
  input: Shape;
  /**
   * Destructive tools: the name of the resource the call would destroy (fetched), which `confirm_name` must equal. The
   * server adds `confirm_name` to the input schema of every tool that has this.
   */
  confirmName?: (args: z.infer<z.ZodObject<Shape>>, ctx: ToolContext) => Promise<string>;
  /** What `confirm_name` must be, in words ("the workspace name"): the refusal says it, never the value itself. */
  confirmWhat?: string;
  handler: (args: z.infer<z.ZodObject<Shape>>, ctx: ToolContext) => Promise<unknown>;
}

/** Declares a tool with its argument types inferred from `input` (the catalogue is a list of these). */
export function tool<Shape extends z.ZodRawShape>(def: ToolDef<Shape>): ToolDef {
  return def as unknown as ToolDef;
}

/** A tool that only reads: never destructive, always safe to repeat; it reaches only this platform (closed world). */
export const READ: ToolAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
/** Creates or changes something; repeating it may create another. */
export const WRITE: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };
/** Sets a value to the same end state however often it runs (set a secret, pause). */
export const WRITE_IDEMPOTENT: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false };
/** Removes something (needs confirm_name); removing it again finds nothing to remove. */
export const DESTROY: ToolAnnotations = { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false };

export const workspaceId = z.string().uuid().describe('The workspace id (UUID).');

/** The error a tool answers with, before or instead of a call (a refused binding, a wrong confirmation). */
export class ToolRefusal extends Error {
  override readonly name = 'ToolRefusal';
}
