import { isUtf8 } from 'node:buffer';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import client from 'prom-client';
import secureJson from 'secure-json-parse';
import { Type } from 'typebox';
import { DomainError, ERROR_CODES, errorBody, type ErrorCode } from '../errors.js';
import { isDatastoreOutage } from '../db/index.js';
import { connectionOptions, type ConnectionLimits } from './connections.js';
import { ulid } from '../ids.js';
import { addInputKeywords, TEXT_FORMAT, TEXT_FORMAT_MESSAGE } from './input.js';
import './types.js';

export type App = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  Logger,
  TypeBoxTypeProvider
>;

export interface BaseAppOptions {
  logger: Logger;
  title: string;
  description: string;
  version: string;
  /** OpenAPI security schemes for this service. */
  securitySchemes: Record<string, unknown>;
  bodyLimit?: number;
  /**
   * TRUST_PROXY: the proxies (addresses, CIDR ranges) whose X-Forwarded-For names the client. Empty or unset: nobody,
   * the TCP peer is the client. Never `true`: trusting every peer lets any client pick the address that limits and
   * the audit trail key on.
   */
  trustProxy?: readonly string[];
  /** Adds `service` to the `/health` body (the control plane answers `{"service":"molecule-cp","status":"ok"}`). */
  serviceName?: string;
  /** Request, header and keep-alive timeouts (connections.ts; default: DEFAULT_CONNECTION_LIMITS). */
  connections?: ConnectionLimits;
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

// ajv-formats is CommonJS with a default export; under NodeNext the callable sits on .default.
type FormatsPlugin = (ajv: Ajv) => Ajv;
const addFormats: FormatsPlugin =
  (addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? (addFormatsModule as unknown as FormatsPlugin);

/**
 * Two validators: bodies are strict (no coercion, unknown fields are errors), while query strings, params and
 * headers arrive as text and are coerced to the declared types.
 *
 * `allErrors: false`: validation stops at the first failed keyword, and ajv checks `maxLength` before `pattern` and
 * `format`, so no pattern ever runs on a string longer than its schema allows. With `allErrors: true` a 120 KB org
 * name was still fed to the name pattern after failing `maxLength: 100`, and that pattern held the event loop for
 * 9.9 s (issue 7 item 3). Every missing required field is still named: see `describeValidationErrors`.
 */
export function buildValidators() {
  // strictNumbers: NaN and ±Infinity are not numbers (a query string's `1e309` coerces to Infinity, which would
  // otherwise pass `type: integer` and reach SQL).
  const common = { allErrors: false, strict: false, strictNumbers: true, useDefaults: true, verbose: true, removeAdditional: false } as const;
  const body = new Ajv({ ...common, coerceTypes: false });
  const text = new Ajv({ ...common, coerceTypes: 'array' });
  for (const ajv of [body, text]) {
    addFormats(ajv);
    addInputKeywords(ajv);
  }
  return { body, text };
}

/**
 * Ajv coerces a query string's `1e309` to Infinity and then, under strictNumbers, skips every numeric keyword
 * for it (they only apply to finite numbers) without reporting the coerced value as a type error: the value
 * passes `type: integer, maximum: …` and reaches SQL. So text parts (query, params, headers) are re-checked after
 * coercion; a JSON body needs no such step (no coercion, and strictNumbers refuses a parsed `1e309` outright).
 */
function refuseNonFiniteAfterCoercion(validate: ValidateFunction): ValidateFunction {
  const wrapped = ((data: unknown, ctx?: Parameters<ValidateFunction>[1]) => {
    if (!validate(data, ctx)) {
      wrapped.errors = validate.errors;
      return false;
    }
    wrapped.errors = null;
    if (data === null || typeof data !== 'object') return true;
    for (const [key, value] of Object.entries(data)) {
      if ([value].flat().some((v) => typeof v === 'number' && !Number.isFinite(v))) {
        wrapped.errors = [{ instancePath: `/${key}`, schemaPath: '#/type', keyword: 'type', params: { type: 'number' }, message: 'must be a finite number' }];
        return false;
      }
    }
    return true;
  }) as ValidateFunction;
  // Fastify hands Ajv the request as parent data (so defaults and coercions land) only when it sees schemaEnv.
  Object.assign(wrapped, { schemaEnv: validate.schemaEnv, schema: validate.schema, errors: null });
  return wrapped;
}

/**
 * Route schemas compile on first use rather than at boot. Fastify compiles every route's validators (Ajv) and
 * response serializers (fast-json-stringify) when the app becomes ready; a tenant process has ~90 routes and serves
 * a handful of them in its first minutes, and compiling them all took about a second of its start and ~25 MiB of
 * its resident memory (bench: org create → ready, idle tenant RSS). The compiled function is the very same, built
 * from the same schema by the same compiler, the first time a request needs it, and kept.
 */
function validatorOnFirstUse(compile: () => ValidateFunction): ValidateFunction {
  let validate: ValidateFunction | undefined;
  const lazy = ((data: unknown, ctx?: Parameters<ValidateFunction>[1]) => {
    validate ??= compile();
    const ok = validate(data, ctx);
    lazy.errors = validate.errors;
    return ok;
  }) as ValidateFunction;
  // Fastify hands the validator the request as parent data (so defaults and coercions land) only when it sees
  // schemaEnv, which every Ajv-compiled function has.
  Object.assign(lazy, { schemaEnv: true, errors: null });
  return lazy;
}

const buildSerializer = SerializerSelector();

/** Fastify's own serializer factory (fast-json-stringify), each route's serializer built on its first response. */
const serializerOnFirstUse: typeof buildSerializer = (externalSchemas, options) => {
  const compile = buildSerializer(externalSchemas, options);
  return (route) => {
    let serialize: ((doc: unknown) => string) | undefined;
    return (doc: unknown) => (serialize ??= compile(route))(doc);
  };
};

function fieldName(instancePath: string): string {
  return instancePath
    .replace(/^\//, '')
    .split('/')
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : p))
    .join('.')
    .replace(/\.\[/g, '[');
}

/**
 * Turns Ajv errors into one sentence that names each offending field, plus the list of fields. A schema may carry
 * `x-error` (a message, or messages per keyword) to say it in the reference's words. Unions such as
 * `string | null` report the branch that came closest, not every branch.
 */
export function describeValidationErrors(errors: readonly ErrorObject[], where: string) {
  const byPath = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    const list = byPath.get(e.instancePath) ?? [];
    list.push(e);
    byPath.set(e.instancePath, list);
  }
  const fields: string[] = [];
  const problems: string[] = [];
  let onlyMissing = true;
  for (const [path, group] of byPath) {
    let relevant = group.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
    const union = group.find((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
    const unionMessage = (union?.parentSchema as { 'x-error'?: unknown } | undefined)?.['x-error'];
    if (union && typeof unionMessage === 'string') {
      // A union that says what it accepts (a closed set of literals: plans, roles) speaks for all its branches:
      // "plan must be one of free, starter, pro", not the last branch's "must be equal to constant".
      relevant = [union];
    } else if (union) {
      // In a union, a branch whose *type* matched failed on something specific: that is the useful message.
      const specific = relevant.filter((e) => e.keyword !== 'type');
      if (specific.length > 0) relevant = specific;
      else {
        const types = [...new Set(relevant.map((e) => String((e.params as { type?: string }).type)))];
        relevant = [{ ...relevant[0]!, message: `must be ${types.join(' or ')}` }];
      }
    }
    for (const e of relevant) {
      const base = fieldName(path);
      let field = base;
      let problem: string;
      if (e.keyword === 'required') {
        // Validation stops at the first error, so ajv reports one missing property; the schema and the data
        // (`verbose`) give the rest, and the message names them all, as the reference does.
        for (const missing of missingProperties(e)) {
          const name = [base, missing].filter(Boolean).join('.');
          if (!fields.includes(name)) fields.push(name);
          if (!problems.includes(`${name} is required`)) problems.push(`${name} is required`);
        }
        continue;
      } else if (e.keyword === 'additionalProperties') {
        field = [base, (e.params as { additionalProperty: string }).additionalProperty].filter(Boolean).join('.');
        problem = `unknown field "${field}"`;
      } else {
        const custom = (e.parentSchema as { 'x-error'?: string | Record<string, string> } | undefined)?.['x-error'];
        const text = typeof custom === 'string' ? `${field || where} ${custom}` : custom?.[e.keyword];
        const fallback = e.keyword === 'format' && (e.params as { format?: string }).format === TEXT_FORMAT ? TEXT_FORMAT_MESSAGE : e.message;
        problem = text ?? `${field || where} ${fallback ?? 'is invalid'}`;
      }
      if (e.keyword !== 'required') onlyMissing = false;
      if (!fields.includes(field)) fields.push(field);
      if (!problems.includes(problem)) problems.push(problem);
    }
  }
  // Several missing fields read as the reference says them: "slug, name, owner_user_id are required".
  if (onlyMissing && fields.length > 1) return { message: `${fields.join(', ')} are required`, fields };
  return { message: problems.join('; '), fields: fields.filter(Boolean) };
}

/** Every property `required` names that the object lacks, the one ajv reported first. */
function missingProperties(e: ErrorObject): string[] {
  const first = (e.params as { missingProperty: string }).missingProperty;
  const required = (e.parentSchema as { required?: unknown } | undefined)?.required;
  const data = e.data;
  if (!Array.isArray(required) || typeof data !== 'object' || data === null) return [first];
  const missing = required.filter((p): p is string => typeof p === 'string' && (data as Record<string, unknown>)[p] === undefined);
  return missing.includes(first) ? missing : [first, ...missing];
}

export const ErrorBodySchema = Type.Object(
  {
    error: Type.String({ description: 'Human-readable message; reference clients match on it.' }),
    code: Type.String({ description: 'Stable machine code from the closed error table.', enum: Object.keys(ERROR_CODES) }),
    request_id: Type.String({ description: 'Echoed in the X-Request-Id header and the server log.' }),
  },
  { additionalProperties: true, $id: 'ErrorBody', title: 'ErrorBody' },
);

export function sendError(reply: FastifyReply, code: ErrorCode, message?: string, context: Record<string, unknown> = {}) {
  return reply.code(ERROR_CODES[code].status).type('application/json').send(errorBody(code, reply.request.id, message, context));
}

export interface RouteCatalogEntry {
  method: string;
  url: string;
  /** Undefined on open routes (no auth tier). */
  minRole: string | undefined;
  orgWide: boolean;
  /** Control plane: the partner-key scope(s) the route takes (undefined: partner keys are refused). */
  partnerScope?: string | readonly string[];
  /** The route's schemas as registered (params, querystring, headers, body, responses): for checks over every route. */
  schema?: { params?: unknown; querystring?: unknown; headers?: unknown; body?: unknown; response?: unknown; hide?: boolean };
}

export interface BaseApp {
  app: App;
  metrics: client.Registry;
}

/**
 * Everything the two services share: request ids, strict validation, the one error handler, metrics, security
 * headers, `/health`, `/metrics` and `/openapi.json`. Each service's composition root adds its own tiers and routes.
 */
export async function createBaseApp(opts: BaseAppOptions): Promise<BaseApp> {
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // request.ip walks X-Forwarded-For from the right, past trusted hops only; the first untrusted one is the client.
    trustProxy: opts.trustProxy && opts.trustProxy.length > 0 ? [...opts.trustProxy] : false,
    // Every connection is bounded, and the server's own refusals (408, 431, malformed HTTP) use the one error body.
    ...connectionOptions(opts.connections),
    // One line per request would duplicate the audit trail; errors are still logged with their request id.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID_RE.test(incoming) ? incoming : `req_${ulid()}`;
    },
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
    schemaController: { compilersFactory: { buildSerializer: serializerOnFirstUse } },
    // Errors the router raises before any route runs (a malformed URL, an over-long path segment) get the one
    // error body too, never Fastify's own shape. No onRequest hook has run, so the request id header is set here.
    frameworkErrors: (error, _request, reply) => {
      const tooLong = (error as { code?: string }).code === 'FST_ERR_MAX_PARAM_LENGTH';
      const code: ErrorCode = tooLong ? 'URI_TOO_LONG' : 'VALIDATION_FAILED';
      const message = tooLong ? 'a path segment is too long (at most 200 characters)' : 'malformed URL';
      void (reply as unknown as FastifyReply)
        .code(ERROR_CODES[code].status)
        .type('application/json')
        .header('x-request-id', reply.request.id)
        .send(errorBody(code, reply.request.id, message));
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  const validators = buildValidators();
  app.setValidatorCompiler(({ schema, httpPart }) => {
    type Compiled = ReturnType<Parameters<App['setValidatorCompiler']>[0]>;
    if (httpPart === 'body') return validatorOnFirstUse(() => validators.body.compile(schema as object)) as Compiled;
    return validatorOnFirstUse(() => refuseNonFiniteAfterCoercion(validators.text.compile(schema as object))) as Compiled;
  });

  // Every route the app serves, for the security suite's "is every protected route covered?" check and the docs.
  const routeCatalog: RouteCatalogEntry[] = [];
  app.decorate('routeCatalog', routeCatalog);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      routeCatalog.push({
        method,
        url: route.url,
        minRole: route.config?.minRole,
        orgWide: route.config?.orgWide === true,
        ...(route.config?.partnerScope !== undefined ? { partnerScope: route.config.partnerScope } : {}),
        schema: route.schema as RouteCatalogEntry['schema'],
      });
    }
  });

  app.decorateRequest('principal', null);
  app.decorateRequest('auditWritten', false);

  // JSON bodies: an empty body means "no fields" (the reference accepts a bare POST /org/tokens), and prototype
  // pollution keys are refused rather than parsed.
  // Only JSON is accepted: a text/plain body is 415 like any other type, not a string the schema then refuses.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  // Read as bytes and refused unless valid UTF-8 (RFC 8259 §8.1): decoding would silently turn invalid bytes into
  // U+FFFD, so a file or a name would be stored as something other than what was sent.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, raw, done) => {
    if (typeof raw !== 'string' && !isUtf8(raw)) return done(new DomainError('INVALID_JSON', 'request body is not valid UTF-8'), undefined);
    const text = typeof raw === 'string' ? raw : raw.toString('utf8');
    if (text.trim() === '') return done(null, {});
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch {
      done(new DomainError('INVALID_JSON'), undefined);
    }
  });

  // Metrics: one registry per app so test apps in one process never collide.
  const metrics = new client.Registry();
  client.collectDefaultMetrics({ register: metrics });
  const requests = new client.Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [metrics],
  });
  const duration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method and route pattern.',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [metrics],
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // A POST/PUT/PATCH with no body at all is treated like `{}`, so the schema names the missing fields.
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined && (request.method === 'POST' || request.method === 'PUT' || request.method === 'PATCH')) {
      request.body = {};
    }
  });

  // Security headers (reference §9.2) on every response.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'strict-origin-when-cross-origin');
    reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=()');
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', "default-src 'self'");
    reply.header('cache-control', reply.getHeader('cache-control') ?? 'no-store');
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError | DomainError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof DomainError) {
      // A refusal that says when to come back says it in the header too (RFC 9110 §10.2.3).
      const retryAfter = err.context['retry_after'];
      if (typeof retryAfter === 'number' && !reply.hasHeader('retry-after')) reply.header('retry-after', String(retryAfter));
      if (err.code === 'platform_unavailable') request.log.error({ err: (err as { causeError?: unknown }).causeError ?? err }, 'datastore unavailable');
      return sendError(reply, err.code, err.message, err.context);
    }
    const fe = err as FastifyError & { validation?: ErrorObject[]; validationContext?: string };
    if (fe.validation) {
      const { message, fields } = describeValidationErrors(fe.validation, fe.validationContext ?? 'body');
      const compat = request.routeOptions.config.validationError;
      const context: Record<string, unknown> = { detail: message, fields };
      if (fields.length === 1) context['field'] = fields[0];
      return sendError(reply, 'VALIDATION_FAILED', compat ?? message, context);
    }
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(reply, 'PAYLOAD_TOO_LARGE');
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return sendError(reply, fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'UNSUPPORTED_MEDIA_TYPE' : 'VALIDATION_FAILED');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return sendError(reply, 'INVALID_JSON');
    }
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      return sendError(reply, 'VALIDATION_FAILED', fe.message);
    }
    if (isDatastoreOutage(err)) {
      request.log.error({ err }, 'datastore unavailable');
      return sendError(reply, 'platform_unavailable');
    }
    // Anything unexpected: log it with the request id, answer with a body that leaks nothing.
    request.log.error({ err }, 'unhandled error');
    return sendError(reply, 'INTERNAL');
  });

  app.setNotFoundHandler((request, reply) => {
    // A request an onRequest hook already answered by streaming (the edge's proxy of a tenant's SSE stream) reaches
    // here once that stream ends: its response is under way or gone, and a 404 now could only fail to write.
    if (reply.raw.headersSent || reply.raw.destroyed) return reply;
    return sendError(reply, 'ROUTE_NOT_FOUND', `route not found: ${request.method} ${request.url.split('?')[0]}`);
  });

  await app.register(swagger, {
    // Shared schemas keep their $id as their component name (ErrorBody), not def-N.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
    openapi: {
      openapi: '3.1.0',
      info: { title: opts.title, description: opts.description, version: opts.version },
      components: { securitySchemes: opts.securitySchemes as never },
    },
  });
  app.addSchema(ErrorBodySchema);

  const healthBody = opts.serviceName ? { service: opts.serviceName, status: 'ok' as const } : { status: 'ok' as const };
  const HealthResponse = opts.serviceName
    ? Type.Object({ service: Type.Literal(opts.serviceName), status: Type.Literal('ok') })
    : Type.Object({ status: Type.Literal('ok') });
  app.get(
    '/health',
    { schema: { operationId: 'health', tags: ['system'], summary: 'Liveness probe', response: { 200: HealthResponse } } },
    async () => healthBody,
  );
  app.get('/metrics', { schema: { operationId: 'metrics', tags: ['system'], summary: 'Prometheus metrics (text exposition format)' } }, async (_req, reply) => {
    reply.type(metrics.contentType);
    return metrics.metrics();
  });
  app.get('/openapi.json', { schema: { operationId: 'openapi', tags: ['system'], summary: 'This service’s OpenAPI 3.1 document' } }, async () => app.swagger());

  return { app, metrics };
}
