/**
 * The slice of autocannon's programmatic API the benchmark uses. autocannon ships no type declarations and
 * @types/autocannon is not a dependency; declaring only what bench/load.ts reads keeps the compiler strict without
 * pulling a types package in for one file.
 */
declare module 'autocannon' {
  namespace autocannon {
    /** The request as autocannon builds it; `setupRequest` may change it before each send. */
    interface RequestParams {
      method: string;
      path: string;
      headers: Record<string, string>;
      body?: string | Buffer;
    }

    /** One entry of `requests`: with a `setupRequest`, autocannon rebuilds that request before every send. */
    interface RequestSpec {
      setupRequest?: (req: RequestParams, context: Record<string, unknown>) => RequestParams;
    }

    interface Options {
      url: string;
      method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
      body?: string;
      headers?: Record<string, string>;
      requests?: RequestSpec[];
      connections?: number;
      /** Seconds. */
      duration?: number;
      /** Seconds before a request counts as a timeout. */
      timeout?: number;
      pipelining?: number;
    }

    /** Histogram summary; latency values are milliseconds, requests per second, throughput bytes per second. */
    interface Histogram {
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total?: number;
      p50: number;
      p90: number;
      p97_5: number;
      p99: number;
    }

    interface Result {
      duration: number;
      errors: number;
      timeouts: number;
      non2xx: number;
      resets: number;
      mismatches: number;
      '2xx': number;
      statusCodeStats: Record<string, { count: number }>;
      latency: Histogram;
      requests: Histogram & { sent: number };
      throughput: Histogram;
    }
  }

  function autocannon(opts: autocannon.Options): Promise<autocannon.Result>;
  export = autocannon;
}
