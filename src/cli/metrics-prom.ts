/**
 * A reader for the Prometheus text exposition format (version 0.0.4), the format the pilot's /metrics
 * serves: `# HELP` / `# TYPE` lines, samples `name{label="value",...} value [timestamp]`, label values with
 * `\\`, `\"` and `\n` escapes, and the special values `+Inf`, `-Inf` and `NaN`. A line that does not parse
 * is skipped and counted, never thrown: a scrape of a half-broken target still gives what it can.
 */

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  /** The sample's own name (`pilot_xds_push_time_bucket`, not the family name). */
  name: string;
  labels: Labels;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** Family name → declared type (`counter`, `gauge`, `histogram`, `summary`, `untyped`). */
  types: Map<string, string>;
  help: Map<string, string>;
  /** Lines that were neither comments nor parseable samples. */
  skipped: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Go's strconv.ParseFloat as Prometheus accepts it, plus the exposition's Inf/NaN spellings. */
export function parseSampleValue(text: string): number | undefined {
  switch (text) {
    case '+Inf':
    case 'Inf':
    case '+inf':
    case 'inf':
      return Infinity;
    case '-Inf':
    case '-inf':
      return -Infinity;
    case 'NaN':
    case 'nan':
      return NaN;
    default:
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
      return Number(text);
  }
}

/** Parses `{a="x",b="y"}` from the start of `s`; returns the labels and the rest, or undefined. */
function parseLabels(s: string): { labels: Record<string, string>; rest: string } | undefined {
  const labels: Record<string, string> = {};
  let i = 1; // past '{'
  for (;;) {
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] === '}') return { labels, rest: s.slice(i + 1) };
    const name = LABEL_NAME.exec(s.slice(i))?.[0];
    if (!name) return undefined;
    i += name.length;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] !== '=') return undefined;
    i++;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] !== '"') return undefined;
    i++;
    let value = '';
    for (;;) {
      const c = s[i];
      if (c === undefined) return undefined;
      if (c === '"') break;
      if (c === '\\') {
        const next = s[i + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else value += `\\${next ?? ''}`;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++; // past the closing quote
    labels[name] = value;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] === ',') i++;
    else if (s[i] !== '}') return undefined;
  }
}

/** One sample line, or undefined when it does not parse. */
export function parseSampleLine(line: string): Sample | undefined {
  const name = NAME.exec(line)?.[0];
  if (!name) return undefined;
  let rest = line.slice(name.length);
  let labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    const parsed = parseLabels(rest);
    if (!parsed) return undefined;
    labels = parsed.labels;
    rest = parsed.rest;
  }
  const fields = rest.trim().split(/[ \t]+/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === '') return undefined;
  const value = parseSampleValue(fields[0] as string);
  if (value === undefined) return undefined;
  if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) return undefined;
  return { name, labels, value };
}

export function parseExposition(text: string): Exposition {
  const out: Exposition = { samples: [], types: new Map(), help: new Map(), skipped: 0 };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(line);
      if (m?.[1] === 'TYPE') out.types.set(m[2] as string, (m[3] ?? 'untyped').trim());
      else if (m?.[1] === 'HELP') out.help.set(m[2] as string, m[3] ?? '');
      continue;
    }
    const sample = parseSampleLine(line.trimStart());
    if (sample) out.samples.push(sample);
    else out.skipped++;
  }
  return out;
}

/** A stable key for a label set (names sorted), for matching series across two scrapes. */
export function seriesKey(name: string, labels: Labels): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `${name}{${parts.join(',')}}`;
}

/** Samples of one name whose labels include every `match` pair. */
export function select(samples: readonly Sample[], name: string, match: Labels = {}): Sample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(match).every(([k, v]) => (s.labels[k] ?? '') === v),
  );
}

/** PromQL's `sum by (label) (name)`: label value → sum (a missing label is the empty string). */
export function sumBy(samples: readonly Sample[], name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of select(samples, name)) {
    const key = s.labels[label] ?? '';
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** PromQL's `sum(name)`; undefined when there is no such series (PromQL's empty result). */
export function sumOf(samples: readonly Sample[], name: string, match: Labels = {}): number | undefined {
  const found = select(samples, name, match);
  return found.length === 0 ? undefined : found.reduce((a, s) => a + s.value, 0);
}
