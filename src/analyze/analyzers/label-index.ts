/**
 * Label selector matching, and indexes that answer selector questions without comparing every object with
 * every other one. The indexes give exactly the answers of `selectorMatches` over a plain list, in list
 * order: a selector value that is a string can only equal a label stored under the same key with the same
 * string value, so looking up one `key=value` pair finds every candidate; the full match is still checked.
 */

type Labels = Record<string, unknown>;

/** Label selector match: every key/value of the selector is in the labels (an empty selector matches all). */
export function selectorMatches(
  selector: Record<string, unknown> | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return true;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** key -> value -> positions, for string values only. */
type PairIndex = Map<string, Map<string, number[]>>;

function addPair(index: PairIndex, key: string, value: string, position: number): void {
  let byValue = index.get(key);
  if (!byValue) index.set(key, (byValue = new Map()));
  const positions = byValue.get(value);
  if (positions) positions.push(position);
  else byValue.set(value, [position]);
}

/** Items carrying labels (pods, workloads), found by a label selector. */
export class LabelIndex<T> {
  private readonly labels: Labels[];
  /** Built on the first selective query: many analyses never make one. */
  private pairs: PairIndex | undefined;

  constructor(
    private readonly items: readonly T[],
    labelsOf: (item: T) => Labels,
  ) {
    this.labels = items.map(labelsOf);
  }

  get size(): number {
    return this.items.length;
  }

  /** The items whose labels hold every key/value of the selector (all items for an empty one), in order. */
  matching(selector: Labels | undefined): T[] {
    const out: T[] = [];
    for (const position of this.candidates(selector)) {
      const item = this.items[position] as T;
      if (selectorMatches(selector, this.labels[position] as Record<string, string>)) out.push(item);
    }
    return out;
  }

  /** The first item `matching` would return. */
  first(selector: Labels | undefined): T | undefined {
    for (const position of this.candidates(selector)) {
      if (selectorMatches(selector, this.labels[position] as Record<string, string>))
        return this.items[position];
    }
    return undefined;
  }

  /**
   * Positions that may match, ascending: those holding the selector's rarest string pair. A selector with a
   * value of another type is rare bad input; it is checked against every item, as a plain scan would.
   */
  private candidates(selector: Labels | undefined): Iterable<number> {
    const entries = Object.entries(selector ?? {});
    if (entries.length === 0 || entries.some(([, v]) => typeof v !== 'string')) return this.items.keys();
    const byPair = this.byPair();
    let rarest: number[] | undefined;
    for (const [k, v] of entries) {
      const positions = byPair.get(k)?.get(v as string) ?? [];
      if (!rarest || positions.length < rarest.length) rarest = positions;
    }
    return rarest ?? [];
  }

  private byPair(): PairIndex {
    if (!this.pairs) {
      const pairs: PairIndex = new Map();
      this.labels.forEach((labels, position) => {
        for (const [k, v] of Object.entries(labels))
          if (typeof v === 'string') addPair(pairs, k, v, position);
      });
      this.pairs = pairs;
    }
    return this.pairs;
  }
}

/** Items with a selector of string values (Services), found by the labels of an object they select. */
export class SelectorIndex<T> {
  private readonly selectors: Record<string, string>[];
  /** Each item with a non-empty selector is filed under its selector's first pair only. */
  private readonly byFirstPair: PairIndex = new Map();
  /** Items with an empty selector, which selects everything. */
  private readonly selectAll: number[] = [];

  constructor(
    private readonly items: readonly T[],
    selectorOf: (item: T) => Record<string, string>,
  ) {
    this.selectors = items.map(selectorOf);
    this.selectors.forEach((selector, position) => {
      const first = Object.entries(selector)[0];
      if (first) addPair(this.byFirstPair, first[0], first[1], position);
      else this.selectAll.push(position);
    });
  }

  /** The items whose selector matches the labels, in order. */
  selecting(labels: Labels): T[] {
    const positions = [...this.selectAll];
    for (const [k, v] of Object.entries(labels)) {
      if (typeof v === 'string') positions.push(...(this.byFirstPair.get(k)?.get(v) ?? []));
    }
    return positions
      .sort((a, b) => a - b)
      .filter((p) => selectorMatches(this.selectors[p], labels as Record<string, string>))
      .map((p) => this.items[p] as T);
  }
}

/**
 * Items grouped by namespace, each group (in input order) turned into an index by `index`. Items whose
 * namespace is undefined are left out.
 */
export function indexByNamespace<T, I>(
  items: Iterable<T>,
  namespaceOf: (item: T) => string | undefined,
  index: (group: T[]) => I,
): Map<string, I> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const ns = namespaceOf(item);
    if (ns === undefined) continue;
    const group = groups.get(ns);
    if (group) group.push(item);
    else groups.set(ns, [item]);
  }
  const out = new Map<string, I>();
  for (const [ns, group] of groups) out.set(ns, index(group));
  return out;
}
