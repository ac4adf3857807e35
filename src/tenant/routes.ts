import type { App } from '../core/http/app.js';
import type { TenantContext } from './context.js';

/** Registers one route on the scope (auth tier) it is given. */
export type RouteRegistrar = (app: App, ctx: TenantContext) => void;

/**
 * A domain's routes, grouped by the auth tier they are mounted in (DESIGN.md §4):
 * - `admin`: the admin chain (org-wide routes and collections);
 * - `adminBound`: the admin chain, confined to the `:id` workspace (a key bound elsewhere gets 404);
 * - `workspace`: the admin chain or the `:id` workspace's own token;
 * - `runtime`: open to TenantGuard, authenticated in the handler by the calling workspace's own token.
 */
export interface DomainRoutes {
  admin?: RouteRegistrar[];
  adminBound?: RouteRegistrar[];
  workspace?: RouteRegistrar[];
  runtime?: RouteRegistrar[];
}
