import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * pino JSON lines. Credentials never reach a log line: the paths below are censored wherever they appear, and
 * request logging uses Fastify's serializers, which print method/url/ip but no headers.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-molecule-admin-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.authorization',
  '*.cookie',
  '*.auth_token',
  '*.token',
  '*.password',
  '*.secret',
  '*.adminToken',
  '*.invite_token',
  '*.code_verifier',
  '*.client_secret',
  '*.password_hash',
  'auth_token',
  'token',
  'password',
];

export interface LoggerOptions {
  level?: string;
  name: string;
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: opts.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: {
        // Fastify announces each bound address as "Server listening at <url>"; operators and the launcher's
        // supervisors wait for one machine-readable line instead: {"msg":"listening","url":…}.
        logMethod(args, method) {
          const first = args[0] as unknown;
          if (typeof first === 'string' && first.startsWith('Server listening at ')) {
            return method.call(this, { url: first.slice('Server listening at '.length) }, 'listening');
          }
          return method.apply(this, args as Parameters<typeof method>);
        },
      },
    },
    opts.destination,
  );
}
