/**
 * `kubectl top pod`'s arithmetic and table (k8s.io/kubectl/pkg/metricsutil): Kubernetes quantities read
 * exactly (as rationals, so `1234567n` plus `1m` adds up as resource.Quantity does), CPU printed as
 * `MilliValue()` with an `m` — which rounds up — and memory as `Value()/(1024*1024)` with `Mi`, which
 * rounds the bytes up and then divides down. Every cell, the last included, ends with a tab, through a
 * tabwriter with kubectl's settings, so lines carry kubectl's trailing padding.
 */
import { goSortSlice } from './configdump-gosort.js';
import { KUBECTL_TABLE } from './kubectl-printers.js';
import { tabulate } from './tabwriter.js';

/** An exact non-negative or negative rational: num / den, den > 0. */
export interface Rational {
  num: bigint;
  den: bigint;
}

const DECIMAL_SUFFIX: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const BINARY_SUFFIX: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

/** A Kubernetes quantity (`250m`, `1234567n`, `12345Ki`, `1.5Gi`, `1e3`) as a rational; undefined if malformed. */
export function parseQuantity(text: unknown): Rational | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(
    text.trim(),
  );
  if (!m) return undefined;
  const [, sign, digits = '', exponent, suffix = ''] = m;
  const [whole = '', frac = ''] = digits.split('.');
  let num = BigInt(`${whole}${frac}` || '0');
  let den = 10n ** BigInt(frac.length);
  if (sign === '-') num = -num;
  let pow10 = 0;
  if (exponent) pow10 = Number(exponent.slice(1));
  else if (suffix in BINARY_SUFFIX) num *= 2n ** BigInt(BINARY_SUFFIX[suffix] as number);
  else pow10 = DECIMAL_SUFFIX[suffix] ?? 0;
  if (Math.abs(pow10) > 100) return undefined;
  if (pow10 >= 0) num *= 10n ** BigInt(pow10);
  else den *= 10n ** BigInt(-pow10);
  return { num, den };
}

export const ZERO: Rational = { num: 0n, den: 1n };

export function addQuantities(a: Rational, b: Rational): Rational {
  return { num: a.num * b.den + b.num * a.den, den: a.den * b.den };
}

/** ⌈num/den⌉ for den > 0. */
function ceilDiv(num: bigint, den: bigint): bigint {
  const q = num / den;
  return num % den !== 0n && num > 0n ? q + 1n : q;
}

/** resource.Quantity's MilliValue(): the value in thousandths, rounded up. */
export function milliValue(q: Rational): bigint {
  return ceilDiv(q.num * 1000n, q.den);
}

/** resource.Quantity's Value(): the value as an integer, rounded up. */
export function integerValue(q: Rational): bigint {
  return ceilDiv(q.num, q.den);
}

/** CPU as `kubectl top` prints it: millicores, `3m`. */
export function formatCpu(q: Rational): string {
  return `${milliValue(q)}m`;
}

/** Memory as `kubectl top` prints it: whole mebibytes (Go's truncating division), `26Mi`. */
export function formatMemory(q: Rational): string {
  return `${integerValue(q) / (1024n * 1024n)}Mi`;
}

export interface ContainerUsage {
  name: string;
  cpu: Rational;
  memory: Rational;
}

export interface PodUsage {
  namespace: string;
  name: string;
  containers: ContainerUsage[];
}

/** A PodMetrics object from the API as usages; fields that are missing or malformed count as zero. */
export function podUsage(item: unknown): PodUsage | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const o = item as Record<string, unknown>;
  const meta = (typeof o['metadata'] === 'object' && o['metadata'] !== null ? o['metadata'] : {}) as Record<
    string,
    unknown
  >;
  const name = typeof meta['name'] === 'string' ? meta['name'] : undefined;
  if (name === undefined) return undefined;
  const containers = (Array.isArray(o['containers']) ? o['containers'] : []).flatMap((c: unknown) => {
    if (typeof c !== 'object' || c === null) return [];
    const cr = c as Record<string, unknown>;
    const usage = (typeof cr['usage'] === 'object' && cr['usage'] !== null ? cr['usage'] : {}) as Record<
      string,
      unknown
    >;
    return [
      {
        name: typeof cr['name'] === 'string' ? cr['name'] : '',
        cpu: parseQuantity(usage['cpu']) ?? ZERO,
        memory: parseQuantity(usage['memory']) ?? ZERO,
      },
    ];
  });
  return { namespace: typeof meta['namespace'] === 'string' ? meta['namespace'] : '', name, containers };
}

/** The pod's usage: the sum over its containers (getPodMetrics). */
export function podTotals(p: PodUsage): { cpu: Rational; memory: Rational } {
  let cpu = ZERO;
  let memory = ZERO;
  for (const c of p.containers) {
    cpu = addQuantities(cpu, c.cpu);
    memory = addQuantities(memory, c.memory);
  }
  return { cpu, memory };
}

export interface TopTableOptions {
  containers: boolean;
  withNamespace: boolean;
  noHeaders: boolean;
  sortBy?: string;
}

/** Go's sort order for `--sort-by`: bigger first for cpu/memory, else by (namespace,) name. */
function sortPods(pods: readonly PodUsage[], o: TopTableOptions): PodUsage[] {
  const totals = new Map(pods.map((p) => [p, podTotals(p)]));
  return goSortSlice(pods, (a, b) => {
    const ta = totals.get(a) as { cpu: Rational; memory: Rational };
    const tb = totals.get(b) as { cpu: Rational; memory: Rational };
    switch (o.sortBy) {
      case 'cpu':
        return milliValue(ta.cpu) > milliValue(tb.cpu);
      case 'memory':
        return integerValue(ta.memory) > integerValue(tb.memory);
      default:
        if (o.withNamespace && a.namespace !== b.namespace) return a.namespace < b.namespace;
        return a.name < b.name;
    }
  });
}

function sortContainers(containers: readonly ContainerUsage[], sortBy: string | undefined): ContainerUsage[] {
  return goSortSlice(containers, (a, b) => {
    switch (sortBy) {
      case 'cpu':
        return milliValue(a.cpu) > milliValue(b.cpu);
      case 'memory':
        return integerValue(a.memory) > integerValue(b.memory);
      default:
        return a.name < b.name;
    }
  });
}

/** The table `kubectl top pod` prints; empty when there are no pods (kubectl prints nothing then). */
export function renderTopPods(pods: readonly PodUsage[], o: TopTableOptions): string {
  if (pods.length === 0) return '';
  const lines: string[][] = [];
  if (!o.noHeaders)
    lines.push([
      ...(o.withNamespace ? ['NAMESPACE'] : []),
      ...(o.containers ? ['POD'] : []),
      'NAME',
      'CPU(cores)',
      'MEMORY(bytes)',
    ]);
  for (const p of sortPods(pods, o)) {
    const ns = o.withNamespace ? [p.namespace] : [];
    if (o.containers) {
      for (const c of sortContainers(p.containers, o.sortBy))
        lines.push([...ns, p.name, c.name, formatCpu(c.cpu), formatMemory(c.memory)]);
    } else {
      const t = podTotals(p);
      lines.push([...ns, p.name, formatCpu(t.cpu), formatMemory(t.memory)]);
    }
  }
  // kubectl ends every cell with a tab, the last one too.
  return tabulate(lines.map((cells) => `${cells.map((c) => `${c}\t`).join('')}\n`).join(''), KUBECTL_TABLE);
}
