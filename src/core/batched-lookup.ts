/**
 * Credential lookups under concurrency, batched without a cache: while one lookup query is in flight, the hashes
 * presented meanwhile wait and go to the database together in the next query (`key_hash = ANY(…)`), each distinct hash
 * once. Every answer comes from a query that *started after its request arrived*, so a revoke committed before a
 * request is always seen by it — DESIGN.md §4's "no positive cache may outlive a revoke" holds, there is no cache.
 *
 * A lone request runs its query at once (nothing is in flight): no added latency at low load; under load a request
 * waits at most for the query in flight, and a burst of N requests costs about one query per round trip instead of N.
 * A failed query fails every request of its batch with the same error (a datastore outage is then each one's 503).
 */
export class BatchedLookup<Row> {
  private pending = new Map<string, Array<{ resolve: (row: Row | undefined) => void; reject: (err: unknown) => void }>>();
  private running = false;

  /** `query` answers the rows found for some of the keys, keyed as asked; a missing key is "no such row". */
  constructor(private readonly query: (keys: string[]) => Promise<Map<string, Row>>) {}

  lookup(key: string): Promise<Row | undefined> {
    return new Promise((resolve, reject) => {
      const waiting = this.pending.get(key);
      if (waiting) waiting.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.size > 0) {
        const batch = this.pending;
        this.pending = new Map();
        let rows: Map<string, Row>;
        try {
          rows = await this.query([...batch.keys()]);
        } catch (err) {
          for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
          continue;
        }
        for (const [key, waiters] of batch) for (const w of waiters) w.resolve(rows.get(key));
      }
    } finally {
      this.running = false;
    }
  }
}
