import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { TENANT_SECURITY, TENANT_TIER_ERRORS } from '../errors.js';
import { tenantOrgOf } from '../service.js';

/** Reference §2.6: a tenant applies these with setenv and ignores values over 4 KiB; we never send one. */
export const TENANT_CONFIG_VALUE_MAX = 4096;

/**
 * What this control plane really has to tell a tenant. The reference also sends MOLECULE_LLM_* and OPENAI_* /
 * ANTHROPIC_* keys for its metered LLM proxy; this product serves no such proxy, so it sends none (README).
 */
export function tenantConfigFor(ctx: ControlPlaneContext): Record<string, string> {
  const values: Record<string, string | undefined> = {
    MOLECULE_CP_URL: ctx.publicUrl,
    MOLECULE_CP_SHARED_SECRET: ctx.config.PROVISION_SHARED_SECRET,
  };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === '') continue;
    if (Buffer.byteLength(value) > TENANT_CONFIG_VALUE_MAX) {
      ctx.log.warn({ key }, 'tenant config: value over 4 KiB left out');
      continue;
    }
    out[key] = value;
  }
  return out;
}

export default function tenantConfigRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/tenants/config',
    {
      schema: {
        operationId: 'getTenantConfig',
        tags: ['tenants'],
        summary: 'The environment a tenant applies at boot (tenant admin token)',
        description:
          'A flat `{ENV_NAME: "value"}` map for the calling tenant: MOLECULE_CP_URL, and MOLECULE_CP_SHARED_SECRET when the provisioning API is enabled. Values never exceed 4 KiB.',
        security: TENANT_SECURITY,
        response: {
          200: Type.Record(Type.String(), Type.String({ maxLength: TENANT_CONFIG_VALUE_MAX })),
          ...errorResponses(...TENANT_TIER_ERRORS),
        },
      },
    },
    async (request) => {
      tenantOrgOf(request.principal);
      return tenantConfigFor(ctx);
    },
  );
}
