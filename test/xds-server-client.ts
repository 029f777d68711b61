/**
 * A small ADS test client for the server tests: grpc-js with the ADS service loaded by proto-loader
 * straight from the protos grpc-js-xds bundles (independent of the server's own codec), plus fixtures.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import path from 'node:path';
import { decodeAny } from '../src/xds/index.js';

const require = createRequire(import.meta.url);
const DEPS = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

type Plain = Record<string, unknown>;

interface AdsClientCtor {
  new (
    address: string,
    creds: grpc.ChannelCredentials,
  ): grpc.Client & {
    StreamAggregatedResources(): grpc.ClientDuplexStream<Plain, Plain>;
    DeltaAggregatedResources(): grpc.ClientDuplexStream<Plain, Plain>;
  };
}

let ctor: AdsClientCtor | undefined;

function adsClientCtor(): AdsClientCtor {
  if (ctor) return ctor;
  const def = protoLoader.loadSync(['envoy/service/discovery/v3/ads.proto'], {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
    includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(DEPS, d)),
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: AdsClientCtor } } } };
  };
  ctor = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService;
  return ctor;
}

export const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const RDS = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

/** google.protobuf.Struct from plain JSON (Value members stay camelCase under keepCase). */
export function struct(obj: Record<string, unknown>): Plain {
  const value = (v: unknown): Plain => {
    if (typeof v === 'string') return { stringValue: v };
    if (typeof v === 'number') return { numberValue: v };
    if (typeof v === 'boolean') return { boolValue: v };
    if (Array.isArray(v)) return { listValue: { values: v.map(value) } };
    if (v && typeof v === 'object') return { structValue: struct(v as Record<string, unknown>) };
    return { nullValue: 'NULL_VALUE' };
  };
  return { fields: Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, value(v)])) };
}

export function node(id: string, metadata: Record<string, unknown> = {}): Plain {
  return { id, metadata: struct(metadata), locality: {} };
}

export const CATALOG_NODE = node(
  'sidecar~10.10.0.15~catalog-v1.istioinaction~istioinaction.svc.cluster.local',
  {
    NAMESPACE: 'istioinaction',
    ISTIO_VERSION: '1.17.8',
    CLUSTER_ID: 'Kubernetes',
    LABELS: { app: 'catalog', version: 'v1' },
  },
);

export const GATEWAY_NODE = node(
  'router~10.10.0.5~istio-ingressgateway-1.istio-system~istio-system.svc.cluster.local',
  {
    NAMESPACE: 'istio-system',
    ISTIO_VERSION: '1.17.8',
    CLUSTER_ID: 'Kubernetes',
    LABELS: { app: 'istio-ingressgateway', istio: 'ingressgateway' },
  },
);

export interface Response {
  version_info?: string;
  system_version_info?: string;
  type_url: string;
  nonce: string;
  resources?: Plain[];
  removed_resources?: string[];
}

/** Resource names in a response (SotW Anys or delta Resources). */
export function names(r: Response): string[] {
  return (r.resources ?? []).map((res) => {
    if (typeof res['name'] === 'string' && res['resource']) return res['name'];
    const json = decodeAny(res as unknown as { type_url: string; value: Uint8Array });
    return String(json['name'] ?? json['clusterName'] ?? '');
  });
}

/** Decoded resources of a SotW response. */
export function decoded(r: Response): Record<string, unknown>[] {
  return (r.resources ?? []).map((res) =>
    decodeAny((res['resource'] ?? res) as unknown as { type_url: string; value: Uint8Array }),
  );
}

export class TestStream {
  readonly client;
  readonly call: grpc.ClientDuplexStream<Plain, Plain>;
  private readonly queue: Response[] = [];
  private waiter: ((r: Response) => void) | undefined;
  readonly ended: Promise<grpc.StatusObject>;

  constructor(address: string, kind: 'sotw' | 'delta' = 'sotw') {
    const Ctor = adsClientCtor();
    this.client = new Ctor(address, grpc.credentials.createInsecure());
    this.call =
      kind === 'sotw' ? this.client.StreamAggregatedResources() : this.client.DeltaAggregatedResources();
    this.call.on('data', (r: Response) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(r);
      } else this.queue.push(r);
    });
    this.ended = new Promise((resolve) => {
      this.call.on('status', (s: grpc.StatusObject) => resolve(s));
      this.call.on('error', () => {});
    });
  }

  send(req: Plain): void {
    this.call.write(req);
  }

  /** The next response, or a rejection after `ms`. */
  next(ms = 5000): Promise<Response> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no response within ${ms}ms`));
      }, ms);
      this.waiter = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
  }

  /** Undefined when nothing arrives within `ms`, else the response. */
  async maybeNext(ms = 300): Promise<Response | undefined> {
    try {
      return await this.next(ms);
    } catch {
      return undefined;
    }
  }

  /** Sends an ACK of `r` (same names). */
  ack(r: Response, resourceNames: string[] = []): void {
    this.send({
      type_url: r.type_url,
      version_info: r.version_info,
      response_nonce: r.nonce,
      resource_names: resourceNames,
    });
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

export const FIXTURE = `
apiVersion: v1
kind: Namespace
metadata:
  name: istioinaction
---
apiVersion: v1
kind: Service
metadata:
  name: catalog
  namespace: istioinaction
spec:
  selector:
    app: catalog
  ports:
    - name: http
      port: 80
      targetPort: 3000
---
apiVersion: v1
kind: Pod
metadata:
  name: catalog-v1
  namespace: istioinaction
  labels:
    app: catalog
    version: v1
spec:
  containers:
    - name: catalog
      image: skiff/catalog
      ports:
        - containerPort: 3000
status:
  phase: Running
  podIP: 10.10.0.15
  conditions:
    - type: Ready
      status: 'True'
---
apiVersion: v1
kind: Service
metadata:
  name: istio-ingressgateway
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  ports:
    - name: http2
      port: 80
      targetPort: 8080
---
apiVersion: v1
kind: Pod
metadata:
  name: istio-ingressgateway-1
  namespace: istio-system
  labels:
    app: istio-ingressgateway
    istio: ingressgateway
spec:
  containers:
    - name: istio-proxy
      image: skiff/proxy
      ports:
        - containerPort: 8080
status:
  phase: Running
  podIP: 10.10.0.5
  conditions:
    - type: Ready
      status: 'True'
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: catalog-gateway
  namespace: istioinaction
spec:
  selector:
    istio: ingressgateway
  servers:
    - hosts:
        - catalog.istioinaction.io
      port:
        number: 80
        name: http
        protocol: HTTP
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: catalog
  namespace: istioinaction
spec:
  hosts:
    - catalog.istioinaction.io
  gateways:
    - catalog-gateway
  http:
    - route:
        - destination:
            host: catalog.istioinaction.svc.cluster.local
            port:
              number: 80
`;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a truthy value or `ms` passes. */
export async function eventually<T>(check: () => T | Promise<T>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T = await check();
  while (!last && Date.now() < deadline) {
    await sleep(20);
    last = await check();
  }
  return last;
}
