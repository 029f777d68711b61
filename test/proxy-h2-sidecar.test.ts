/**
 * gRPC between two sidecars over mutual TLS, as Istio wires a gRPC port: a grpc-js client → the client
 * sidecar's outbound HCM (h2c) → its HTTP/2 cluster over ISTIO_MUTUAL with the istio.alpn filter's
 * `istio-h2` → the server sidecar's STRICT inbound chain (ALPN h2 selects the HTTP/2 codec) → the inbound
 * cluster with use_downstream_protocol_config → a grpc-js app.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { h2ProtocolOptions, waitFor } from './proxy-fixtures.js';
import type { Ca, Leaf, TlsSide } from './proxy-tls-fixtures.js';
import {
  certSecret,
  clientSnapshot,
  makeCa,
  makeLeaf,
  rootSecret,
  serverSnapshot,
  spiffe,
  startTlsSide,
} from './proxy-tls-fixtures.js';

const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const HTTP_OPTIONS_TYPE = `type.googleapis.com/${HTTP_OPTIONS}`;
const ALPN_TYPE = 'type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig';

const bytes = (b: Buffer): Buffer => b;

function method(path: string): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: bytes,
    requestDeserialize: bytes,
    responseSerialize: bytes,
    responseDeserialize: bytes,
  };
}

function call(
  client: grpc.Client,
  path: string,
  arg: string,
): Promise<{ err: grpc.ServiceError | null; value?: Buffer; trailer?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let trailer: grpc.Metadata | undefined;
    let result: { err: grpc.ServiceError | null; value?: Buffer } | undefined;
    const finish = (): void => {
      if (result && trailer) resolve({ ...result, trailer });
    };
    const c = client.makeUnaryRequest(
      path,
      bytes,
      bytes,
      Buffer.from(arg),
      new grpc.Metadata(),
      {},
      (err, value) => {
        result = value ? { err, value } : { err };
        finish();
      },
    );
    c.on('status', (s: grpc.StatusObject) => {
      trailer = s.metadata;
      finish();
    });
  });
}

describe('gRPC between two sidecars over mTLS', () => {
  let ca: Ca;
  let clientLeaf: Leaf;
  let serverLeaf: Leaf;
  let server: grpc.Server;
  let appPort: number;
  let inbound: TlsSide;
  let outbound: TlsSide;
  let client: grpc.Client;

  before(async () => {
    ca = await makeCa();
    clientLeaf = await makeLeaf(ca, spiffe('default', 'client'));
    serverLeaf = await makeLeaf(ca, spiffe('default', 'server'));
    server = new grpc.Server();
    server.addService(
      { Echo: method('/test.Echo/Echo'), Fail: method('/test.Echo/Fail') },
      {
        Echo: (c: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
          const md = new grpc.Metadata();
          md.set('x-served-by', 'server-app');
          cb(null, Buffer.from(`echo:${c.request.toString()}`), md);
        },
        Fail: (_c: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
          cb({ code: grpc.status.PERMISSION_DENIED, details: 'not you' }),
      },
    );
    appPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );

    // Server sidecar: STRICT inbound; the inbound cluster speaks whatever the downstream spoke.
    const inboundSnapshot = serverSnapshot('STRICT', appPort);
    const inboundCluster = inboundSnapshot.clusters[0] as Record<string, unknown>;
    inboundCluster['typedExtensionProtocolOptions'] = {
      [HTTP_OPTIONS]: {
        '@type': HTTP_OPTIONS_TYPE,
        useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} },
      },
    };
    inbound = await startTlsSide(inboundSnapshot, 'virtualInbound|9080', [
      certSecret(serverLeaf),
      rootSecret(ca),
    ]);

    // Client sidecar: the outbound cluster is HTTP/2 (a grpc port) with the istio.alpn filter in the HCM.
    const outboundSnapshot = clientSnapshot(inbound.port);
    const cluster = outboundSnapshot.clusters[0] as Record<string, unknown>;
    cluster['typedExtensionProtocolOptions'] = h2ProtocolOptions();
    const listener = outboundSnapshot.listeners[0] as {
      filterChains: { filters: { typedConfig: { httpFilters: unknown[] } }[] }[];
    };
    const hcm = listener.filterChains[0]?.filters[0]?.typedConfig;
    hcm?.httpFilters.unshift({
      name: 'istio.alpn',
      typedConfig: {
        '@type': ALPN_TYPE,
        alpnOverride: [
          { alpnOverride: ['istio-http/1.0', 'istio', 'http/1.0'] },
          { upstreamProtocol: 'HTTP11', alpnOverride: ['istio-http/1.1', 'istio', 'http/1.1'] },
          { upstreamProtocol: 'HTTP2', alpnOverride: ['istio-h2', 'istio', 'h2'] },
        ],
      },
    });
    outbound = await startTlsSide(outboundSnapshot, '0.0.0.0_80', [certSecret(clientLeaf), rootSecret(ca)]);
    client = new grpc.Client(`127.0.0.1:${outbound.port}`, grpc.credentials.createInsecure(), {
      'grpc.default_authority': 'server',
    });
  });

  after(async () => {
    client.close();
    await outbound.engine.close();
    await inbound.engine.close();
    await new Promise<void>((r) => server.tryShutdown(() => r()));
  });

  it('carries unary calls, trailers and error statuses through both sidecars over one h2 connection', async () => {
    const results = await Promise.all([1, 2, 3].map((i) => call(client, '/test.Echo/Echo', `m${i}`)));
    assert.deepEqual(
      results.map((r) => r.value?.toString()),
      ['echo:m1', 'echo:m2', 'echo:m3'],
    );
    assert.deepEqual(results[0]?.trailer?.get('x-served-by'), ['server-app']);
    const denied = await call(client, '/test.Echo/Fail', 'x');
    assert.equal(denied.err?.code, grpc.status.PERMISSION_DENIED);
    assert.equal(denied.err?.details, 'not you');

    await waitFor(() => inbound.infos.length >= 4 && outbound.infos.length >= 4);
    const out = outbound.infos[0];
    const inb = inbound.infos[0];
    assert.equal(out?.protocol, 'HTTP/2');
    assert.equal(out?.upstreamPeerUriSan, spiffe('default', 'server'));
    assert.equal(inb?.protocol, 'HTTP/2');
    assert.equal(inb?.downstreamPeerUriSan, spiffe('default', 'client'));
    assert.equal(inb?.scheme, 'https');
    // The client sidecar's pool kept one upstream connection; the server sidecar saw one HTTP/2 connection.
    const counters = inbound.engine.stats.counters;
    const h2Conns = [...counters.entries()]
      .filter(([name]) => name.endsWith('downstream_cx_http2_total'))
      .reduce((n, [, c]) => n + c.value, 0);
    assert.equal(h2Conns, 1);
    const h1Conns = [...counters.entries()]
      .filter(([name]) => name.endsWith('downstream_cx_http1_total'))
      .reduce((n, [, c]) => n + c.value, 0);
    assert.equal(h1Conns, 0);
  });

  it('fails a call cleanly when the server sidecar is gone: UNAVAILABLE, UF on the client sidecar', async () => {
    const gone = await startTlsSide(serverSnapshot('STRICT', appPort), 'virtualInbound|9080', [
      certSecret(serverLeaf),
      rootSecret(ca),
    ]);
    const port = gone.port;
    await gone.engine.close();
    const snapshot = clientSnapshot(port);
    const cluster = snapshot.clusters[0] as Record<string, unknown>;
    cluster['typedExtensionProtocolOptions'] = h2ProtocolOptions();
    const side = await startTlsSide(snapshot, '0.0.0.0_80', [certSecret(clientLeaf), rootSecret(ca)]);
    const c = new grpc.Client(`127.0.0.1:${side.port}`, grpc.credentials.createInsecure(), {
      'grpc.default_authority': 'server',
    });
    try {
      const r = await call(c, '/test.Echo/Echo', 'x');
      assert.equal(r.err?.code, grpc.status.UNAVAILABLE);
      await waitFor(() => side.infos.length >= 1);
      const info = side.infos[0];
      assert.equal(info?.responseCode, 200);
      assert.equal(info?.details, 'upstream_reset_before_response_started{connection_failure}');
    } finally {
      c.close();
      await side.engine.close();
    }
  });
});
