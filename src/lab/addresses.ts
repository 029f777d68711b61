/**
 * Loopback addressing of the embedded lab. Every pod gets its own address from 127.10.0.0/16 (the lab's pod
 * subnet 10.10.0.0/16 moved onto loopback), so each pod can use the well-known ports (15000, 15001, 15006,
 * 15020, 15021, 15090, 8080, ...) without clashing with another pod. A sidecar-injected pod has two more
 * pod-private addresses in parallel ranges: the application binds 127.11.x.y (the sidecar owns the pod
 * address and forwards inbound traffic there, as iptables REDIRECT would), and the sidecar's per-port
 * outbound listeners bind 127.12.x.y. Service cluster IPs come from 127.200.0.0/22 (10.200.0.0/22).
 */
import { createServer } from 'node:net';

export const POD_SUBNET = '127.10.0.0/16';
export const SERVICE_SUBNET = '127.200.0.0/22';

/** The second octet of the application and outbound address ranges. */
const APP_OCTET = 11;
const OUTBOUND_OCTET = 12;

function octets(ip: string): number[] | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  const out = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  return out.every((n) => Number.isInteger(n) && n >= 0 && n <= 255) ? out : undefined;
}

function withSecondOctet(podIP: string, octet: number): string {
  const o = octets(podIP);
  if (!o || o[0] !== 127) return podIP;
  return `127.${octet}.${o[2]}.${o[3]}`;
}

/** Where a sidecar-injected pod's application listens (the pod-private twin of the pod IP). */
export function podAppAddress(podIP: string): string {
  return withSecondOctet(podIP, APP_OCTET);
}

/** Where a sidecar's per-port outbound listeners bind (its 15001 front forwards to them by port). */
export function podOutboundAddress(podIP: string): string {
  return withSecondOctet(podIP, OUTBOUND_OCTET);
}

function toNumber(ip: string): number {
  const o = octets(ip) ?? [0, 0, 0, 0];
  return (((o[0] ?? 0) << 24) | ((o[1] ?? 0) << 16) | ((o[2] ?? 0) << 8) | (o[3] ?? 0)) >>> 0;
}

function fromNumber(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Hands out addresses of a CIDR in order, skipping the network address, `.0` and `.1` hosts and any in use. */
export class IpAllocator {
  private readonly first: number;
  private readonly last: number;
  private readonly used = new Set<number>();
  private next: number;

  constructor(cidr: string) {
    const [base, bitsText] = cidr.split('/');
    const bits = Number(bitsText);
    const start = toNumber(base ?? '');
    const size = 2 ** (32 - bits);
    // .0 is the network and .1 the gateway in a kind cluster; pods start at .2.
    this.first = start + 2;
    this.last = start + size - 2;
    this.next = this.first;
  }

  contains(ip: string): boolean {
    if (!octets(ip)) return false;
    const n = toNumber(ip);
    return n >= this.first && n <= this.last;
  }

  /** Marks an address as taken (objects recovered from the state dir keep theirs). */
  reserve(ip: string): void {
    if (this.contains(ip)) this.used.add(toNumber(ip));
  }

  release(ip: string): void {
    this.used.delete(toNumber(ip));
  }

  /** The next free address, cycling through the range; throws when it is full. */
  allocate(): string {
    const span = this.last - this.first + 1;
    for (let i = 0; i < span; i++) {
      const n = this.next;
      this.next = n >= this.last ? this.first : n + 1;
      if (!this.used.has(n)) {
        this.used.add(n);
        return fromNumber(n);
      }
    }
    throw new Error('no free address left');
  }
}

/**
 * Whether this machine routes the whole 127.0.0.0/8 block to loopback (Linux does; macOS only 127.0.0.1
 * unless aliases are added). Tries to bind a pod-range, app-range and service-range address.
 */
export async function loopbackRangeUsable(): Promise<boolean> {
  for (const ip of ['127.10.255.254', '127.11.255.254', '127.12.255.254', '127.200.3.254']) {
    const ok = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(0, ip, () => server.close(() => resolve(true)));
    });
    if (!ok) return false;
  }
  return true;
}
