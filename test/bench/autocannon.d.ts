// The part of autocannon's API the fallback driver uses (the package ships no types).
declare module 'autocannon' {
  namespace autocannon {
    interface Request {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string;
    }
    interface Options {
      url: string;
      connections: number;
      /** Seconds. */
      duration: number;
      headers?: Record<string, string>;
      requests?: { setupRequest?: (request: Request) => Request }[];
    }
    interface Result {
      /** Seconds the run took. */
      duration: number;
      requests: { total: number; average: number };
      /** Milliseconds. */
      latency: { p50: number; p99: number; max: number };
      non2xx: number;
      '2xx': number;
      '3xx': number;
      '4xx': number;
      '5xx': number;
      errors: number;
      timeouts: number;
    }
  }
  function autocannon(options: autocannon.Options): Promise<autocannon.Result>;
  export default autocannon;
}
