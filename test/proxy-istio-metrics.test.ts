import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProxySnapshot } from '../src/proxy/index.js';
import {
  decodeStruct,
  encodeStruct,
  parsePeerHeader,
  PEER_METADATA_HEADER,
  peerHeaders,
  requestLabels,
  ISTIO_LABELS,
} from '../src/proxy/index.js';
import type { Harness, Upstream } from './proxy-fixtures.js';
import {
  edsCluster,
  endpoints,
  gatewaySnapshot,
  HCM_TYPE,
  request,
  ROUTER_TYPE,
  startProxy,
  upstream,
  vhost,
  waitFor,
} from './proxy-fixtures.js';

const CATALOG = 'outbound|80||catalog.istioinaction.svc.cluster.local';
const INBOUND = 'inbound|3000||';
const SERVICE = {
  host: 'catalog.istioinaction.svc.cluster.local',
  name: 'catalog',
  namespace: 'istioinaction',
};
const istioMeta = { metadata: { filterMetadata: { istio: { services: [SERVICE] } } } };

/** A sidecar's inbound side: virtualInbound-style listener (INBOUND) → inbound cluster → the app. */
function inboundSnapshot(appPort: number): ProxySnapshot {
  return {
    listeners: [
      {
        name: 'virtualInbound',
        trafficDirection: 'INBOUND',
        address: { socketAddress: { address: '0.0.0.0', portValue: 15006 } },
        filterChains: [
          {
            filters: [
              {
                name: 'envoy.filters.network.http_connection_manager',
                typedConfig: {
                  '@type': HCM_TYPE,
                  statPrefix: 'inbound_0.0.0.0_3000',
                  routeConfig: {
                    name: INBOUND,
                    virtualHosts: [
                      {
                        name: 'inbound|http|3000',
                        domains: ['*'],
                        routes: [{ match: { prefix: '/' }, route: { cluster: INBOUND } }],
                      },
                    ],
                  },
                  httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER_TYPE } }],
                },
              },
            ],
          },
        ],
      },
    ],
    clusters: [
      {
        name: INBOUND,
        type: 'STATIC',
        connectTimeout: '1s',
        ...istioMeta,
        loadAssignment: endpoints(INBOUND, [appPort]),
      },
    ],
  };
}

describe('metadata exchange', () => {
  it('round-trips a protobuf Struct and reads peers (protobuf or JSON fallback)', () => {
    const obj = {
      NAME: 'catalog-1',
      LABELS: { app: 'catalog', version: 'v1' },
      n: 3.5,
      ok: true,
      none: null,
      list: ['a', 1],
    };
    assert.deepEqual(decodeStruct(encodeStruct(obj)), obj);
    const { metadata, id } = peerHeaders({
      name: 'catalog-1',
      namespace: 'istioinaction',
      workloadName: 'catalog',
      labels: { app: 'catalog', version: 'v1' },
      nodeId: 'sidecar~10.10.0.13~catalog-1.istioinaction~istioinaction.svc.cluster.local',
    });
    assert.equal(id, 'sidecar~10.10.0.13~catalog-1.istioinaction~istioinaction.svc.cluster.local');
    assert.deepEqual(parsePeerHeader(metadata), {
      name: 'catalog-1',
      namespace: 'istioinaction',
      workloadName: 'catalog',
      labels: { app: 'catalog', version: 'v1' },
    });
    const json = Buffer.from(
      JSON.stringify({ WORKLOAD_NAME: 'webapp', NAMESPACE: 'istioinaction' }),
    ).toString('base64');
    assert.deepEqual(parsePeerHeader(json), { workloadName: 'webapp', namespace: 'istioinaction' });
    assert.equal(parsePeerHeader('////'), undefined);
    assert.equal(parsePeerHeader(undefined), undefined);
  });

  it("labels a request with Istio's names and defaults", () => {
    const values = requestLabels(
      { workloadName: 'catalog', namespace: 'istioinaction', labels: { app: 'catalog', version: 'v2' } },
      {
        reporter: 'destination',
        protocol: 'http',
        responseCode: 0,
        responseFlags: 'DC',
        durationMs: 1,
        requestBytes: 0,
        responseBytes: 0,
        authority: 'catalog.istioinaction.io:80',
      },
    );
    const labels = Object.fromEntries(ISTIO_LABELS.map((k, i) => [k, values[i]]));
    assert.equal(labels['source_workload'], 'unknown');
    assert.equal(labels['destination_version'], 'v2');
    assert.equal(labels['destination_canonical_service'], 'catalog');
    assert.equal(labels['destination_service'], 'catalog.istioinaction.io');
    assert.equal(labels['destination_service_name'], 'catalog');
    assert.equal(labels['response_code'], '0');
    assert.equal(labels['response_flags'], 'DC');
    assert.equal(labels['connection_security_policy'], 'none');
  });
});

describe('Istio standard metrics between two skiff proxies', () => {
  let app: Upstream;
  let sidecar: Harness;
  let gateway: Harness;

  before(async () => {
    app = await upstream('catalog');
    sidecar = await startProxy(inboundSnapshot(app.port), {
      listener: 'virtualInbound',
      proxy: {
        peer: {
          name: 'catalog-6cf4b97d-dkbtp',
          namespace: 'istioinaction',
          workloadName: 'catalog',
          labels: { app: 'catalog', version: 'v1' },
          clusterId: 'Kubernetes',
        },
      },
    });
    gateway = await startProxy(
      gatewaySnapshot(
        [vhost([{ name: 'catalog', match: { prefix: '/' }, route: { cluster: CATALOG } }])],
        [edsCluster(CATALOG, istioMeta)],
        [endpoints(CATALOG, [sidecar.port])],
      ),
      {
        proxy: {
          peer: {
            name: 'istio-ingressgateway-6bb8fb6549-2mlk2',
            namespace: 'istio-system',
            workloadName: 'istio-ingressgateway',
            labels: { app: 'istio-ingressgateway' },
            clusterId: 'Kubernetes',
          },
        },
      },
    );
  });

  after(async () => {
    await gateway.close();
    await sidecar.close();
    await app.close();
  });

  it('exchanges peer metadata without leaking it to the app or the client', async () => {
    const r = await request(gateway.port);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'catalog');
    assert.equal(app.seen[0]?.[PEER_METADATA_HEADER], undefined, 'the inbound side strips it');
    assert.equal(r.headers[PEER_METADATA_HEADER], undefined, 'the outbound side strips it');
  });

  it('reports istio_requests_total on both sides with source and destination workloads', async () => {
    await waitFor(() => gateway.lines.length >= 1 && sidecar.lines.length >= 1);
    const dest = sidecar.proxy.stats.renderPrometheus();
    const line = dest.split('\n').find((l) => l.startsWith('istio_requests_total{reporter="destination"'));
    assert.ok(line, dest);
    for (const want of [
      'source_workload="istio-ingressgateway"',
      'source_workload_namespace="istio-system"',
      'source_app="istio-ingressgateway"',
      'destination_workload="catalog"',
      'destination_workload_namespace="istioinaction"',
      'destination_version="v1"',
      'destination_service="catalog.istioinaction.svc.cluster.local"',
      'destination_service_name="catalog"',
      'destination_service_namespace="istioinaction"',
      'request_protocol="http"',
      'response_code="200"',
      'response_flags="-"',
      'connection_security_policy="none"',
    ])
      assert.ok(line.includes(want), `${want} in ${line}`);
    assert.match(line, /\} 1$/);
    assert.match(dest, /# TYPE istio_request_duration_milliseconds histogram/);
    assert.match(
      dest,
      /^istio_request_duration_milliseconds_bucket\{reporter="destination",.*le="1"\} \d+$/m,
    );
    assert.match(dest, /^istio_response_bytes_sum\{reporter="destination",.*\} 7$/m);
    assert.match(dest, /# TYPE istio_request_bytes histogram/);

    const src = gateway.proxy.stats.renderPrometheus();
    const srcLine = src.split('\n').find((l) => l.startsWith('istio_requests_total{reporter="source"'));
    assert.ok(srcLine, src);
    assert.ok(srcLine.includes('source_workload="istio-ingressgateway"'));
    assert.ok(srcLine.includes('destination_workload="catalog"'), 'learned from the response metadata');
    assert.ok(srcLine.includes('connection_security_policy="unknown"'));
  });
});
