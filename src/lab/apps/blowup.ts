// Fault injection for the catalog (`/blowup`), with the semantics of the book's catalog service:
//
// - blowups are kept per type; POSTing a type replaces that type's settings (so
//   `{"type": "500", "active": false}` switches it off);
// - only requests whose path contains "items" are affected;
// - "500" answers an empty 500 and "drop" closes the connection without a response, each for
//   `percentage` percent of requests (0–100, as the book's scripts send it; missing means all);
// - "latency" delays every request by `latencyMs` (default 1000); with `volatile` the delay is
//   uniformly random in [0, latencyMs) instead, which is what the seed's lab posts
//   (`{"active": true, "type": "latency", "volatile": true}`: delays 0–1 s, some past a 0.5 s timeout).

export const BLOWUP_TYPES = ['latency', '500', 'drop'] as const;
export type BlowupType = (typeof BLOWUP_TYPES)[number];

/** One blowup as applied; `raw` is the body it was set with, which `GET /blowup` shows back. */
export interface Blowup {
  type: BlowupType;
  active: boolean;
  volatile: boolean;
  latencyMs: number;
  /** Percent of requests affected, 0–100. */
  percentage: number;
  raw: Record<string, unknown>;
}

export const DEFAULT_LATENCY_MS = 1000;

/** What a request to an items path gets. */
export type BlowupOutcome =
  { kind: 'pass'; delayMs: number } | { kind: 'error500'; cause: Blowup } | { kind: 'drop'; cause: Blowup };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The book compares `active == true`, so `1` counts; we also take the string "true". */
function truthyFlag(v: unknown): boolean {
  return v === true || v === 1 || v === 'true' || v === '1';
}

function finiteNumber(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    if (Number.isFinite(n)) return n;
  }
  return undefined;
}

/** Reads a `POST /blowup` body; returns a message instead when it cannot be used. */
export function parseBlowup(body: unknown): Blowup | { error: string } {
  if (!isRecord(body)) return { error: 'blowup must be a JSON object' };
  // The book stores by `req.body.type` and compares with `== "500"`, so a number 500 works too.
  const type = typeof body.type === 'number' ? String(body.type) : body.type;
  if (typeof type !== 'string' || !(BLOWUP_TYPES as readonly string[]).includes(type)) {
    return { error: `blowup type must be one of ${BLOWUP_TYPES.map((t) => `"${t}"`).join(', ')}` };
  }
  const latency = finiteNumber(body.latencyMs);
  const percentage = finiteNumber(body.percentage);
  return {
    type: type as BlowupType,
    active: truthyFlag(body.active),
    volatile: truthyFlag(body.volatile),
    // `latencyMs || 1000` in the book: missing or 0 means the default; negative means no wait.
    latencyMs: latency === undefined || latency === 0 ? DEFAULT_LATENCY_MS : Math.max(0, latency),
    percentage: percentage === undefined ? 100 : Math.min(100, Math.max(0, percentage)),
    raw: body,
  };
}

/** Whether a request path is subject to blowups (the book checks `req.path.includes('items')`). */
export function blowupApplies(path: string): boolean {
  return path.includes('items');
}

/**
 * Decides one request's fate from the blowups in the order they were first set. A firing "500" or
 * "drop" acts at once (as in the book, ahead of any pending latency); latencies otherwise add up.
 * `random` returns values in [0, 1).
 */
export function decideBlowup(blowups: Iterable<Blowup>, random: () => number): BlowupOutcome {
  let delayMs = 0;
  for (const b of blowups) {
    if (!b.active) continue;
    if (b.type === 'latency') {
      delayMs += b.volatile ? Math.floor(random() * b.latencyMs) : b.latencyMs;
      continue;
    }
    if (random() * 100 < b.percentage)
      return b.type === '500' ? { kind: 'error500', cause: b } : { kind: 'drop', cause: b };
  }
  return { kind: 'pass', delayMs };
}
