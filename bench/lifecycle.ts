/**
 * Workspace lifecycle figures on real processes: POST /workspaces → `online` (the runtime process started,
 * registered over HTTP), 50 created at once → all online, and the memory of one idle runtime.
 */

interface WorkspaceView {
  id: string;
  status: string;
  process: { rss_bytes: number | null } | null;
}

export interface LifecycleFigures {
  sequential: { count: number; medianMs: number; p90Ms: number; maxMs: number };
  concurrent: { count: number; wallMs: number };
  idleRuntimeRssMiB: { median: number; samples: number };
}

async function call(method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null };
}

async function create(base: string, headers: Record<string, string>, name: string): Promise<string> {
  const res = await call('POST', `${base}/workspaces`, headers, { name });
  if (res.status !== 201) throw new Error(`POST /workspaces answered ${res.status}: ${JSON.stringify(res.json)}`);
  return (res.json as { id: string }).id;
}

async function view(base: string, headers: Record<string, string>, id: string): Promise<WorkspaceView> {
  const res = await call('GET', `${base}/workspaces/${id}`, headers);
  if (res.status !== 200) throw new Error(`GET /workspaces/${id} answered ${res.status}`);
  return res.json as WorkspaceView;
}

async function untilOnline(base: string, headers: Record<string, string>, id: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const w = await view(base, headers, id);
    if (w.status === 'online') return;
    if (w.status === 'failed') throw new Error(`workspace ${id} failed`);
    if (Date.now() > deadline) throw new Error(`workspace ${id} not online within ${timeoutMs} ms (status ${w.status})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;

export async function measureLifecycle(base: string, headers: Record<string, string>, opts = { sequential: 10, concurrent: 50 }): Promise<LifecycleFigures> {
  const created: string[] = [];
  try {
    const times: number[] = [];
    for (let i = 0; i < opts.sequential; i++) {
      const t0 = performance.now();
      const id = await create(base, headers, `bench-seq-${i}`);
      created.push(id);
      await untilOnline(base, headers, id);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);

    // Idle memory: the sequential runtimes have done nothing but register and heartbeat.
    await new Promise((r) => setTimeout(r, 2000));
    const rss: number[] = [];
    for (const id of created) {
      const bytes = (await view(base, headers, id)).process?.rss_bytes;
      if (typeof bytes === 'number') rss.push(bytes / 1024 / 1024);
    }
    rss.sort((a, b) => a - b);

    const t0 = performance.now();
    const batch = await Promise.all(Array.from({ length: opts.concurrent }, (_, i) => create(base, headers, `bench-par-${i}`)));
    created.push(...batch);
    await Promise.all(batch.map((id) => untilOnline(base, headers, id, 120_000)));
    const wallMs = performance.now() - t0;

    return {
      sequential: { count: times.length, medianMs: percentile(times, 0.5), p90Ms: percentile(times, 0.9), maxMs: times.at(-1)! },
      concurrent: { count: opts.concurrent, wallMs },
      idleRuntimeRssMiB: { median: rss.length ? percentile(rss, 0.5) : NaN, samples: rss.length },
    };
  } finally {
    for (const id of created) await call('DELETE', `${base}/workspaces/${id}`, headers).catch(() => undefined);
  }
}
