import { isIP } from 'node:net';

/**
 * One env schema per binary, parsed once at boot and frozen. An invalid value never half-boots the
 * process: parsing collects every bad key and the launcher prints them all at once, with what to do.
 */

export interface EnvField<T> {
  /** Parses the raw value (undefined when unset). Throws a string that tells the operator what to do. */
  parse(raw: string | undefined): T;
  /** One line for the README's configuration table and `--help`. */
  describe: string;
}

export type EnvSchema = Record<string, EnvField<unknown>>;
export type EnvOf<S extends EnvSchema> = { readonly [K in keyof S]: S[K] extends EnvField<infer T> ? T : never };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function parseEnv<S extends EnvSchema>(schema: S, env: Record<string, string | undefined>): EnvOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, field] of Object.entries(schema)) {
    const raw = env[key];
    try {
      out[key] = field.parse(raw === undefined || raw.trim() === '' ? undefined : raw.trim());
    } catch (err) {
      problems.push(`${key}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(out) as EnvOf<S>;
}

export const env = {
  string(describe: string): EnvField<string | undefined> {
    return { describe, parse: (raw) => raw };
  },
  stringWithDefault(describe: string, fallback: string): EnvField<string> {
    return { describe, parse: (raw) => raw ?? fallback };
  },
  required(describe: string): EnvField<string> {
    return {
      describe,
      parse: (raw) => {
        if (raw === undefined) throw new Error('is required');
        return raw;
      },
    };
  },
  port(describe: string, fallback: number): EnvField<number> {
    return {
      describe,
      parse: (raw) => {
        if (raw === undefined) return fallback;
        const n = Number(raw);
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`must be a port number 0-65535, got "${raw}"`);
        return n;
      },
    };
  },
  int(describe: string, fallback: number, min: number, max: number): EnvField<number> {
    return {
      describe,
      parse: (raw) => {
        if (raw === undefined) return fallback;
        const n = Number(raw);
        if (!Number.isInteger(n) || n < min || n > max) throw new Error(`must be an integer ${min}-${max}, got "${raw}"`);
        return n;
      },
    };
  },
  url(describe: string): EnvField<string | undefined> {
    return {
      describe,
      parse: (raw) => {
        if (raw === undefined) return undefined;
        let u: URL;
        try {
          u = new URL(raw);
        } catch {
          throw new Error(`must be an absolute URL, got "${raw}"`);
        }
        if (!/^(https?|postgres|postgresql|redis|rediss):$/.test(u.protocol)) {
          throw new Error(`unsupported URL scheme "${u.protocol}"`);
        }
        return raw.replace(/\/+$/, '');
      },
    };
  },
  /** An http(s) URL only (a browser-facing address), trailing slashes removed. */
  httpUrl(describe: string): EnvField<string | undefined> {
    const base = env.url(describe);
    return {
      describe,
      parse: (raw) => {
        const value = base.parse(raw);
        if (value !== undefined && !/^https?:$/.test(new URL(value).protocol)) throw new Error(`must be an http:// or https:// URL, got "${raw}"`);
        return value;
      },
    };
  },
  oneOf<const T extends string>(describe: string, values: readonly T[], fallback: T): EnvField<T> {
    return {
      describe,
      parse: (raw) => {
        if (raw === undefined) return fallback;
        if (!(values as readonly string[]).includes(raw)) throw new Error(`must be one of ${values.join(', ')}, got "${raw}"`);
        return raw as T;
      },
    };
  },
  uuid(describe: string): EnvField<string | undefined> {
    return {
      describe,
      parse: (raw) => {
        if (raw === undefined) return undefined;
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(raw)) throw new Error(`must be a UUID, got "${raw}"`);
        return raw.toLowerCase();
      },
    };
  },
  pattern(describe: string, re: RegExp, hint: string): EnvField<string | undefined> {
    return {
      describe,
      parse: (raw) => {
        if (raw === undefined) return undefined;
        if (!re.test(raw)) throw new Error(hint);
        return raw;
      },
    };
  },
  /**
   * A comma-separated list of IP addresses and CIDR ranges (`10.0.0.0/8, ::1`); unset is the empty list. Names and
   * wildcards are refused: what is trusted must be written out.
   */
  cidrList(describe: string): EnvField<readonly string[]> {
    return {
      describe,
      parse: (raw) => {
        if (raw === undefined) return Object.freeze([]);
        const entries = raw.split(',').map((e) => e.trim());
        const bad = entries.filter((e) => {
          const [address = '', bits, ...rest] = e.split('/');
          const family = isIP(address);
          if (family === 0 || rest.length > 0) return true;
          if (bits === undefined) return false;
          const n = Number(bits);
          return !/^\d{1,3}$/.test(bits) || n > (family === 4 ? 32 : 128);
        });
        if (bad.length > 0) throw new Error(`must be IP addresses or CIDR ranges separated by commas (such as 10.0.0.0/8, ::1); not ${bad.map((b) => `"${b}"`).join(', ')}`);
        return Object.freeze(entries);
      },
    };
  },
  secret(describe: string, minLength: number): EnvField<string | undefined> {
    return {
      describe,
      parse: (raw) => {
        if (raw === undefined) return undefined;
        if (raw.length < minLength) throw new Error(`must be at least ${minLength} characters (generate one with: openssl rand -base64 32)`);
        return raw;
      },
    };
  },
};
