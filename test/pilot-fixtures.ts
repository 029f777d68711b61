/**
 * Fixtures for the control-plane tests: a real xDS proxy stand-in (skiff's AdsClient on a real gRPC
 * stream to the pilot) with an Envoy-style admin `/config_dump` over what it holds, and small HTTP helpers.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AdsClient,
  TYPE,
  buildConfigDump,
  proxyFromNode,
  routerNode,
  sidecarNode,
} from '../src/xds/index.js';
import type { IstioNodeOptions, XdsNode } from '../src/xds/index.js';
import { eventually } from './xds-server-client.js';

export async function httpGet(
  port: number,
  path: string,
): Promise<{ status: number; body: string; type: string; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return {
    status: res.status,
    body: await res.text(),
    type: res.headers.get('content-type') ?? '',
    headers: res.headers,
  };
}

/** A simulated proxy: subscribes over ADS like Envoy and serves `/config_dump` of what it accepted. */
export class SimulatedProxy {
  readonly client: AdsClient;
  private admin: Server | undefined;
  private lastUpdated = new Date().toISOString();
  adminPort = 0;

  constructor(
    target: string,
    readonly node: XdsNode,
    validate?: (typeUrl: string) => string | undefined,
  ) {
    this.client = new AdsClient({
      target,
      node,
      initialFetchTimeoutMs: 0,
      backoff: { initialMs: 50, maxMs: 200 },
      ...(validate ? { validate: (typeUrl: string) => validate(typeUrl) } : {}),
      onUpdate: () => {
        this.lastUpdated = new Date().toISOString();
      },
    });
  }

  static sidecar(target: string, options: Omit<IstioNodeOptions, 'type'>): SimulatedProxy {
    return new SimulatedProxy(target, sidecarNode(options));
  }

  static router(target: string, options: Omit<IstioNodeOptions, 'type'>): SimulatedProxy {
    return new SimulatedProxy(target, routerNode(options));
  }

  get id(): string {
    return this.node.id;
  }

  async start(): Promise<void> {
    this.client.start();
    const ready = await eventually(() => this.client.ready, 10_000);
    if (!ready) throw new Error(`${this.node.id} never became ready`);
  }

  /** The proxy's `/config_dump` in Envoy admin spelling (snake_case). */
  configDump(): unknown {
    const snap = this.client.snapshot();
    const proxy = proxyFromNode(this.node.id, this.node.metadata ?? {});
    return buildConfigDump(
      proxy,
      {
        clusters: Object.values(snap.clusters),
        endpoints: Object.values(snap.endpoints),
        listeners: Object.values(snap.listeners),
        routes: Object.values(snap.routes),
        secrets: Object.values(snap.secrets),
      },
      {
        versionInfo: snap.versions[TYPE.Cluster] ?? '',
        lastUpdated: this.lastUpdated,
        snakeCase: true,
      },
    );
  }

  async serveAdmin(): Promise<number> {
    this.admin = createServer((req, res) => {
      if ((req.url ?? '').startsWith('/config_dump')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(this.configDump(), null, 2));
        return;
      }
      res.writeHead(404);
      res.end('not found\n');
    });
    await new Promise<void>((resolve) => this.admin?.listen(0, '127.0.0.1', resolve));
    this.adminPort = (this.admin.address() as AddressInfo).port;
    return this.adminPort;
  }

  async close(): Promise<void> {
    this.client.close();
    if (this.admin) {
      const admin = this.admin;
      admin.closeAllConnections();
      await new Promise<void>((resolve) => admin.close(() => resolve()));
    }
  }
}
