import type { ControlPlaneDomainRoutes } from '../routes.js';
import reprovisionRoute from './routes/reprovision.js';

/** The provisioning domain's own routes (the tenant callbacks and the provisioning API live in their domains). */
export const provisioningRoutes: ControlPlaneDomainRoutes = {
  admin: [reprovisionRoute],
  tenant: [
    (app, ctx) =>
      app.post('/tenants/boot-event', async (request, reply) => {
        const body = request.body as { stage: string; url?: string };
        await ctx.provisioner.onBootEvent(request.principal!.orgId!, { stage: body.stage, url: body.url });
        return reply.code(202).send({ ok: true });
      }),
  ],
};
