/**
 * Items offering host names (Gateway servers, VirtualService hosts), found by the hosts that may match a
 * query's under `hostMatches` (util.ts): an exact host matches only the same host or a wildcard, so only
 * items holding that host or some wildcard are candidates; a wildcard query host may match anything.
 */
export class HostIndex<T> {
  /** Exact (non-wildcard) host -> positions of the items offering it. */
  private readonly byExactHost = new Map<string, number[]>();
  /** Positions of the items offering at least one wildcard host. */
  private readonly withWildcard: number[] = [];

  constructor(
    private readonly items: readonly T[],
    hostsOf: (item: T) => readonly string[],
  ) {
    items.forEach((item, position) => {
      const hosts = hostsOf(item);
      if (hosts.some(isWildcardHost)) this.withWildcard.push(position);
      for (const host of new Set(hosts)) {
        if (isWildcardHost(host)) continue;
        const positions = this.byExactHost.get(host);
        if (positions) positions.push(position);
        else this.byExactHost.set(host, [position]);
      }
    });
  }

  /**
   * The items that may offer a host matching one of `hosts`, in order. A superset: callers still compare
   * hosts with `hostMatches`, so the answers are those of comparing with every item.
   */
  candidates(hosts: readonly string[]): readonly T[] {
    if (hosts.some(isWildcardHost)) return this.items;
    const positions = new Set(this.withWildcard);
    for (const host of hosts) for (const p of this.byExactHost.get(host) ?? []) positions.add(p);
    return [...positions].sort((a, b) => a - b).map((p) => this.items[p] as T);
  }
}

/** A host name starting with `*` is a wildcard, as `hostMatches` treats it. */
export function isWildcardHost(host: string): boolean {
  return host.startsWith('*');
}
