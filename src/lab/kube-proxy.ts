/**
 * The lab's kube-proxy: every Service's cluster IP and port (127.200.0.0/22), and every node port on the
 * host (127.0.0.1:<nodePort>, e.g. the ingress gateway's 30000 → 8080), forward TCP connections to the
 * Service's ready endpoints in turn, as kube-proxy's rules do.
 */
import type { ObjectStore } from '../store/index.js';
import { arrayAt, nsOf, numberAt, recordAt, stringAt } from './objects.js';
import type { ForwardTarget, TcpForwarder } from './tcp-forward.js';
import { startTcpForwarder } from './tcp-forward.js';

export interface KubeProxyOptions {
  /** Where node ports are published (default 127.0.0.1). */
  nodeAddress?: string;
  warn?: (message: string) => void;
}

interface Published {
  forwarder?: TcpForwarder;
  /** Set while binding, so a sync during the bind does not bind twice. */
  pending: boolean;
  error?: string;
}

export interface PublishedPort {
  address: string;
  port: number;
  service: string;
  /** The Service port's name. */
  portName: string;
  nodePort: boolean;
  error?: string;
}

export class KubeProxy {
  private readonly published = new Map<string, Published>();
  private targets = new Map<string, ForwardTarget[]>();
  private readonly cursor = new Map<string, number>();
  private described: PublishedPort[] = [];
  private scheduled = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private readonly nodeAddress: string;
  private readonly warn: (message: string) => void;

  constructor(
    private readonly store: ObjectStore,
    opts: KubeProxyOptions = {},
  ) {
    this.nodeAddress = opts.nodeAddress ?? '127.0.0.1';
    this.warn = opts.warn ?? (() => undefined);
  }

  start(): void {
    this.unsubscribe = this.store.onChange((c) => {
      if (c.kindKey === '/Service' || c.kindKey === '/Endpoints') this.schedule();
    });
    this.sync();
  }

  /** What is published now (and what could not be bound). */
  ports(): PublishedPort[] {
    return this.described.map((p) => {
      const error = this.published.get(`${p.address}:${p.port}`)?.error;
      return error ? { ...p, error } : p;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    const all = [...this.published.values()];
    this.published.clear();
    await Promise.all(all.map((p) => p.forwarder?.close()));
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.sync();
    });
  }

  private sync(): void {
    if (this.stopped) return;
    const targets = new Map<string, ForwardTarget[]>();
    const described: PublishedPort[] = [];
    for (const svc of this.store.list('/Service').items) {
      const spec = recordAt(svc, 'spec');
      const clusterIP = stringAt(spec, 'clusterIP');
      const ep = this.store.get('/Endpoints', nsOf(svc), svc.metadata.name);
      const name = `${nsOf(svc)}/${svc.metadata.name}`;
      for (const port of arrayAt(spec, 'ports')) {
        const number = numberAt(port, 'port');
        const portName = stringAt(port, 'name') ?? '';
        const backends: ForwardTarget[] = [];
        for (const subset of arrayAt(ep, 'subsets')) {
          const match = arrayAt(subset, 'ports').find((p) => (stringAt(p, 'name') ?? '') === portName);
          const target = numberAt(match, 'port');
          if (target === undefined) continue;
          for (const a of arrayAt(subset, 'addresses')) {
            const ip = stringAt(a, 'ip');
            if (ip) backends.push({ host: ip, port: target });
          }
        }
        if (clusterIP && clusterIP !== 'None' && number) {
          targets.set(`${clusterIP}:${number}`, backends);
          described.push({ address: clusterIP, port: number, service: name, portName, nodePort: false });
        }
        const nodePort = numberAt(port, 'nodePort');
        if (nodePort) {
          targets.set(`${this.nodeAddress}:${nodePort}`, backends);
          described.push({
            address: this.nodeAddress,
            port: nodePort,
            service: name,
            portName,
            nodePort: true,
          });
        }
      }
    }
    this.targets = targets;
    this.described = described;
    for (const [key, p] of this.published) {
      if (targets.has(key)) continue;
      this.published.delete(key);
      void p.forwarder?.close();
    }
    for (const key of targets.keys()) {
      if (this.published.has(key)) continue;
      const entry: Published = { pending: true };
      this.published.set(key, entry);
      const i = key.lastIndexOf(':');
      const host = key.slice(0, i);
      const port = Number(key.slice(i + 1));
      startTcpForwarder(host, port, () => this.pick(key)).then(
        (fwd) => {
          entry.pending = false;
          if (this.stopped || this.published.get(key) !== entry) void fwd.close();
          else entry.forwarder = fwd;
        },
        (err: Error) => {
          entry.pending = false;
          entry.error = err.message;
          this.warn(`cannot publish ${key}: ${err.message}`);
        },
      );
    }
  }

  private pick(key: string): ForwardTarget | undefined {
    const list = this.targets.get(key) ?? [];
    if (list.length === 0) return undefined;
    const i = (this.cursor.get(key) ?? 0) % list.length;
    this.cursor.set(key, i + 1);
    return list[i];
  }
}
