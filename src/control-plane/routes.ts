import type { App } from '../core/http/app.js';
import type { ControlPlaneContext } from './context.js';

/** Registers one route on the scope (auth tier and prefix) it is given. */
export type ControlPlaneRouteRegistrar = (app: App, ctx: ControlPlaneContext) => void;

/**
 * A domain's routes, grouped by the tier they are mounted in (DESIGN.md §4, "Control plane tiers"). Every tier but
 * `pages` is mounted twice: under `/api/v1` and under the deprecated `/cp` alias.
 * - `public`: no credential (sign-in, sign-up, the public instance lookup); handlers that start a session say so;
 * - `session`: the `mcp_session` cookie; membership is checked per org by the handler;
 * - `admin`: the CP admin bearer (`CP_ADMIN_API_TOKEN`); a session never passes;
 * - `tenant`: a tenant admin token as the bearer (tenant callbacks, /tenants/*); the principal's orgId is its org;
 * - `provision`: the provision shared secret + X-Molecule-Admin-Token (workspace provisioning, reference §2.5);
 *   not mounted at all while PROVISION_SHARED_SECRET is unset;
 * - `pages`: browser pages of ours outside the API prefixes (billing confirmation); each authenticates itself.
 */
export interface ControlPlaneDomainRoutes {
  public?: ControlPlaneRouteRegistrar[];
  session?: ControlPlaneRouteRegistrar[];
  admin?: ControlPlaneRouteRegistrar[];
  tenant?: ControlPlaneRouteRegistrar[];
  provision?: ControlPlaneRouteRegistrar[];
  pages?: ControlPlaneRouteRegistrar[];
}

/** The stable prefix and the deprecated alias (reference §3.7). */
export const API_PREFIX = '/api/v1';
export const LEGACY_PREFIX = '/cp';
