/**
 * The last tick of every background loop of a server (GET /admin/liveness): each loop registers its name when it
 * is built and ticks once per completed pass. A loop that never completed a pass reports null, so a wedged or
 * never-started loop is visible as such rather than absent.
 */
export class LoopTicks {
  private readonly last = new Map<string, Date | null>();

  register(name: string): () => void {
    if (!this.last.has(name)) this.last.set(name, null);
    return () => this.tick(name);
  }

  tick(name: string, at = new Date()): void {
    this.last.set(name, at);
  }

  snapshot(now = Date.now()): Record<string, { last_tick_at: string | null; seconds_ago: number | null }> {
    const out: Record<string, { last_tick_at: string | null; seconds_ago: number | null }> = {};
    for (const name of [...this.last.keys()].sort()) {
      const at = this.last.get(name) ?? null;
      out[name] = { last_tick_at: at ? at.toISOString() : null, seconds_ago: at ? Math.max(0, Math.floor((now - at.getTime()) / 1000)) : null };
    }
    return out;
  }
}
