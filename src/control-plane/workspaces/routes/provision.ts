import { Type, type Static } from 'typebox';
import { isReservedEnvName } from '../../../core/compute/reserved-env.js';
import { templateCommand, templatePathProblem, templatePathSetProblem, TEMPLATE_LIMITS } from '../../../core/templates/config.js';
import { TEXT_FORMAT } from '../../../core/http/input.js';
import { DomainError, ValidationError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { Text } from '../../../core/http/input.js';
import type { ControlPlaneContext } from '../../context.js';
import { EnvMap, FileMap, InstanceId, InstanceState, PROVISION_ERRORS, RuntimeName } from '../schemas.js';

const UUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/**
 * Decoded size limits: config files are a workspace's template files (issue 10), so they may hold what a template
 * may — 10 MiB in all, 1 MiB a file (the reference allowed 256 KiB); template assets 16 MiB (reference §2.5).
 */
const CONFIG_FILES_MAX_BYTES = TEMPLATE_LIMITS.maxTotalBytes;
/** The route's body limit: 10 MiB of config files and 16 MiB of assets as base64, plus the rest. */
export const PROVISION_BODY_LIMIT = 40 * 1024 * 1024;

/** `config_files`: template file paths (checked in the handler like a template's), base64 values up to 1 MiB decoded. */
const ConfigFileMap = Type.Unsafe<Record<string, string>>({
  type: 'object',
  propertyNames: { type: 'string', format: TEXT_FORMAT, minLength: 1, maxLength: TEMPLATE_LIMITS.maxPathLength },
  additionalProperties: { type: 'string', maxLength: Math.ceil(TEMPLATE_LIMITS.maxFileBytes / 3) * 4, pattern: '^[A-Za-z0-9+/]*={0,2}$' },
  maxProperties: TEMPLATE_LIMITS.maxFiles,
  description:
    '`{path: base64}`: the workspace\'s files (its template\'s, overlaid by its own), written into the agent\'s directory before it starts, never following a link. ' +
    'At most 200 files, 1 MiB a file and 10 MiB decoded in all; paths relative and normalised (no `..`).',
});
const TEMPLATE_ASSETS_MAX_BYTES = 16 * 1024 * 1024;
/** Template assets are a template's configuration and prompts only (reference §2.5). */
const TEMPLATE_ASSET_PATH = /^(config\.yaml|prompts\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*)$/;

export const WorkspaceProvisionRequest = Type.Object(
  {
    org_id: Type.String({ maxLength: 36, pattern: UUID, 'x-error': 'must be the org id (a UUID)' }),
    workspace_id: Type.String({ maxLength: 36, pattern: UUID, 'x-error': 'must be a workspace UUID' }),
    runtime: RuntimeName,
    platform_url: Text({ minLength: 1, maxLength: 2048, description: 'Where the runtime reaches its tenant: must be the calling org’s tenant URL (same origin).' }),
    template: Type.Optional(Type.Union([RuntimeName, Type.Null()])),
    tier: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: 'Clamped to 3..4 (T4 is the SaaS floor).' })),
    instance_type: Type.Optional(Text({ maxLength: 64, pattern: '^[A-Za-z0-9._-]*$' })),
    disk_gb: Type.Optional(Type.Integer({ minimum: 1, maximum: 16384 })),
    provider: Type.Optional(Text({ maxLength: 64, pattern: '^[a-z0-9-]*$', description: 'Compute backend; this control plane runs `local` processes only.' })),
    data_persistence: Type.Optional(Type.Union([Type.Literal('ephemeral'), Type.Literal('persistent')], { description: 'Accepted; a local runtime keeps its agent directory until a DELETE with prune=true.' })),
    kind: Type.Optional(Type.Union([Type.Literal('workspace'), Type.Literal('platform')], { description: '`platform`: the concierge variant (same runtime here).' })),
    display: Type.Optional(
      Type.Object(
        {
          mode: Type.Optional(Text({ maxLength: 32 })),
          width: Type.Optional(Type.Integer({ minimum: 1, maximum: 16384 })),
          height: Type.Optional(Type.Integer({ minimum: 1, maximum: 16384 })),
          protocol: Type.Optional(Text({ maxLength: 32 })),
        },
        { additionalProperties: false },
      ),
    ),
    env: Type.Optional(EnvMap),
    config_files: Type.Optional(ConfigFileMap),
    agent_command: Type.Optional(
      Text({
        minLength: 1,
        maxLength: 64 * 1024,
        description: 'Beyond the reference: the agent command (the template\'s config.yaml `command`). Absent: WORKSPACE_TEMPLATES_DIR/<template>\'s config.yaml (or legacy template.json).',
      }),
    ),
    template_assets: Type.Optional(FileMap('`{path: base64}`: `config.yaml` and `prompts/*` only, at most 16 MiB decoded (and the request body limit). Accepted for compatibility.')),
  },
  { additionalProperties: false },
);
export type WorkspaceProvisionRequest = Static<typeof WorkspaceProvisionRequest>;

export const WorkspaceProvisionResponse = Type.Object({
  instance_id: InstanceId,
  state: InstanceState,
  runtime: Type.String(),
  private_ip: Type.String({ description: 'Where the runtime runs: this machine (127.0.0.1).' }),
  public_ip: Type.Null(),
});

function decodedBytes(files: Record<string, string>): number {
  let total = 0;
  for (const v of Object.values(files)) total += Buffer.byteLength(v, 'base64');
  return total;
}

const fieldError = (field: string, message: string) => new ValidationError(`${field}: ${message}`, { fields: [field.split('.')[0]!], field });

/** The SSRF guard (reference §2.5, PR #52): the runtime may only be pointed at the calling org's own tenant. */
function checkPlatformUrl(raw: string, tenantUrl: string | null): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw fieldError('platform_url', 'must be an http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw fieldError('platform_url', 'must be an http(s) URL');
  if (url.username || url.password) throw fieldError('platform_url', 'must not carry credentials');
  if (!tenantUrl) throw fieldError('platform_url', 'this org has no tenant URL yet: a runtime can only be pointed at its own tenant');
  let tenantOrigin: string;
  try {
    tenantOrigin = new URL(tenantUrl).origin;
  } catch {
    throw fieldError('platform_url', 'this org has no usable tenant URL');
  }
  if (url.origin !== tenantOrigin) throw fieldError('platform_url', "must be the calling org's tenant URL (same scheme, host and port)");
  return url.href.replace(/\/$/, '');
}

export default function provisionWorkspaceRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/workspaces/provision',
    {
      bodyLimit: PROVISION_BODY_LIMIT,
      schema: {
        operationId: 'provisionWorkspace',
        tags: ['workspaces'],
        summary: 'Run a workspace runtime for the calling tenant (201)',
        description:
          'The tenant asks the control plane to run one of its workspaces (WORKSPACE_PROVISIONER=cp). `org_id` must be the org of X-Molecule-Admin-Token (another org: 404 ORG_NOT_FOUND). ' +
          '`platform_url` must be that org’s tenant URL (SSRF guard: anything else is 400 naming platform_url). A runtime with no runtime-image pin is 422 `{"error":"RUNTIME_PIN_MISSING"}`. ' +
          'Provisioning a workspace again replaces its runtime (the old one is stopped first). The workspace token and env reach the runtime only (fd 3); nothing of them is stored.',
        security: [{ provisionSecret: [], tenantAdminHeader: [] }],
        body: WorkspaceProvisionRequest,
        response: {
          201: WorkspaceProvisionResponse,
          ...errorResponses(...PROVISION_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND', 'CONFLICT', 'RUNTIME_PIN_MISSING'),
        },
      },
    },
    async (request, reply) => {
      const orgId = request.principal!.orgId!;
      const body = request.body;
      if (body.org_id.toLowerCase() !== orgId) throw new DomainError('ORG_NOT_FOUND');
      const provider = body.provider ?? 'local';
      if (provider !== 'local' && provider !== 'molecules-server') throw fieldError('provider', 'this control plane runs `local` processes only');
      const env: Record<string, string> = { ...(body.env ?? {}) };
      const token = env['MOLECULE_WORKSPACE_TOKEN'];
      if (!token) throw fieldError('env.MOLECULE_WORKSPACE_TOKEN', "is required: the workspace's instance token");
      let heartbeat = 5;
      if (env['HEARTBEAT_INTERVAL_SECONDS'] !== undefined) {
        heartbeat = Number(env['HEARTBEAT_INTERVAL_SECONDS']);
        if (!Number.isInteger(heartbeat) || heartbeat < 1 || heartbeat > 600) throw fieldError('env.HEARTBEAT_INTERVAL_SECONDS', 'must be an integer from 1 to 600');
      }
      delete env['MOLECULE_WORKSPACE_TOKEN'];
      delete env['HEARTBEAT_INTERVAL_SECONDS'];
      const reserved = Object.keys(env).filter(isReservedEnvName).sort();
      if (reserved.length > 0) throw fieldError(`env.${reserved[0]}`, `${reserved.join(', ')}: names the platform reserves cannot be set`);
      let files: Record<string, Buffer> | undefined;
      if (body.config_files) {
        const paths = Object.keys(body.config_files);
        for (const p of paths) {
          const problem = templatePathProblem(p);
          if (problem) throw fieldError('config_files', `the path ${JSON.stringify(p.slice(0, 100))} ${problem}`);
        }
        const setProblem = templatePathSetProblem(paths);
        if (setProblem) throw fieldError('config_files', `the path ${JSON.stringify(setProblem.path.slice(0, 100))} ${setProblem.problem}`);
        if (decodedBytes(body.config_files) > CONFIG_FILES_MAX_BYTES) throw fieldError('config_files', `at most ${CONFIG_FILES_MAX_BYTES} bytes decoded in all`);
        files = {};
        for (const [p, b64] of Object.entries(body.config_files)) {
          files[p] = Buffer.from(b64, 'base64');
          if (files[p].length > TEMPLATE_LIMITS.maxFileBytes) throw fieldError('config_files', `${JSON.stringify(p.slice(0, 100))} is larger than ${TEMPLATE_LIMITS.maxFileBytes} bytes decoded`);
        }
      }
      if (body.template_assets) {
        const bad = Object.keys(body.template_assets).find((p) => !TEMPLATE_ASSET_PATH.test(p) || p.split('/').includes('..'));
        if (bad !== undefined) throw fieldError('template_assets', `only config.yaml and prompts/* may be sent (not ${JSON.stringify(bad.slice(0, 100))})`);
        if (decodedBytes(body.template_assets) > TEMPLATE_ASSETS_MAX_BYTES) throw fieldError('template_assets', 'at most 16 MiB in all');
      }
      const instance = await ctx.db.selectFrom('org_instances').select('url').where('org_id', '=', orgId).executeTakeFirst();
      const platformUrl = checkPlatformUrl(body.platform_url, instance?.url ?? null);
      // One runtime per workspace id on this machine: another org's never gets replaced (nor named).
      const owner = ctx.workspaces.ownerOf(body.workspace_id.toLowerCase());
      if (owner !== null && owner !== orgId) throw new DomainError('CONFLICT', 'this workspace id cannot be provisioned');
      // The runtime-pin gate: only a build promoted for this runtime, and only one this control plane can run.
      const pin = await ctx.db.selectFrom('runtime_image_pins').select('digest').where('template', '=', body.runtime).executeTakeFirst();
      if (!pin) throw new DomainError('RUNTIME_PIN_MISSING', undefined, { runtime: body.runtime, detail: `no runtime image is promoted for "${body.runtime}" (POST /admin/runtime-image/promote)` });
      const available = ctx.workspaces.availableDigest();
      if (pin.digest !== available) {
        throw new DomainError('RUNTIME_PIN_MISSING', undefined, { runtime: body.runtime, detail: `the pinned build is not this control plane's runtime (${available}); promote it again` });
      }
      let command: string | undefined = body.agent_command;
      if (command === undefined) {
        try {
          command = templateCommand(ctx.config.WORKSPACE_TEMPLATES_DIR, body.template ?? null);
        } catch (err) {
          throw fieldError('template', `its config could not be read: ${(err as Error).message}`);
        }
      }
      const started = await ctx.workspaces.provision(orgId, body.runtime, pin.digest, {
        workspaceId: body.workspace_id.toLowerCase(),
        platformUrl,
        token,
        secrets: env,
        command,
        files,
        heartbeatIntervalSeconds: heartbeat,
      });
      return reply.code(201).send({ instance_id: started.instance_id, state: started.state, runtime: started.runtime, private_ip: '127.0.0.1', public_ip: null });
    },
  );
}
