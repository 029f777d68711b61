/**
 * The per-request caches of the evidence path must never hand a request someone else's labels: Istio's
 * series are cached per peer and per request shape, peer metadata per header value.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PeerInfo, RequestObservation } from '../src/proxy/index.js';
import { IstioStats, parsePeerHeader, peerHeaders, Stats } from '../src/proxy/index.js';

const SELF: PeerInfo = {
  name: 'app-7d9f8b6c5d-x2x4q',
  namespace: 'bench',
  workloadName: 'app',
  labels: { app: 'app', version: 'v1' },
  clusterId: 'Kubernetes',
};

const workload = (name: string, version = 'v1'): PeerInfo => ({
  name: `${name}-abc`,
  namespace: 'bench',
  workloadName: name,
  labels: { app: name, version },
  clusterId: 'Kubernetes',
});

const SERVICE = { host: 'app.bench.svc.cluster.local', name: 'app', namespace: 'bench' };

function observation(
  peer: PeerInfo | undefined,
  extra: Partial<RequestObservation> = {},
): RequestObservation {
  const o: RequestObservation = {
    reporter: 'destination',
    protocol: 'http',
    responseCode: 200,
    responseFlags: '-',
    durationMs: 1,
    requestBytes: 0,
    responseBytes: 10,
    service: SERVICE,
    ...extra,
  };
  if (peer) o.peer = peer;
  return o;
}

/** istio_requests_total by one label's value. */
function requestsBy(stats: Stats, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of stats.counters.values()) {
    if (!c.name.startsWith('istiocustom.istio_requests_total.')) continue;
    const value = c.tags.find(([k]) => k === label)?.[1] ?? '';
    out.set(value, (out.get(value) ?? 0) + c.value);
  }
  return out;
}

describe('Istio series cache', () => {
  it('a different peer gets its own labels; the same peer content shares one series', () => {
    const stats = new Stats();
    const istio = new IstioStats(stats, SELF);
    istio.record(observation(workload('sleep')));
    istio.record(observation(workload('sleep'))); // a new object with equal content (after a cache reset)
    istio.record(observation(workload('curl')));
    istio.record(observation(undefined));
    assert.deepEqual(Object.fromEntries(requestsBy(stats, 'source_workload')), {
      sleep: 2,
      curl: 1,
      unknown: 1,
    });
    const series = [...stats.counters.keys()].filter((n) =>
      n.startsWith('istiocustom.istio_requests_total.'),
    );
    assert.equal(series.length, 3);
  });

  it('the same peer object with a changed response code, flags or service is a different series', () => {
    const stats = new Stats();
    const istio = new IstioStats(stats, SELF);
    const peer = workload('sleep');
    istio.record(observation(peer));
    istio.record(observation(peer, { responseCode: 503, responseFlags: 'UF' }));
    istio.record(
      observation(peer, {
        service: { host: 'other.bench.svc.cluster.local', name: 'other', namespace: 'bench' },
      }),
    );
    istio.record(observation(peer, { service: undefined, authority: 'ratings.bench:9080' }));
    assert.deepEqual(Object.fromEntries(requestsBy(stats, 'response_code')), { '200': 3, '503': 1 });
    assert.deepEqual(Object.fromEntries(requestsBy(stats, 'response_flags')), { '-': 3, UF: 1 });
    assert.deepEqual(Object.fromEntries(requestsBy(stats, 'destination_service')), {
      'app.bench.svc.cluster.local': 2,
      'other.bench.svc.cluster.local': 1,
      'ratings.bench': 1,
    });
  });

  it('a peer whose labels differ (a new version) is not confused with the old one', () => {
    const stats = new Stats();
    const istio = new IstioStats(stats, SELF);
    istio.record(observation(workload('sleep', 'v1')));
    istio.record(observation(workload('sleep', 'v2')));
    assert.deepEqual(Object.fromEntries(requestsBy(stats, 'source_version')), { v1: 1, v2: 1 });
  });
});

describe('peer metadata cache', () => {
  it('decodes each header value once and never mixes two peers', () => {
    const sleep = peerHeaders(workload('sleep')).metadata;
    const curl = peerHeaders(workload('curl')).metadata;
    const a = parsePeerHeader(sleep);
    const b = parsePeerHeader(curl);
    assert.equal(a?.workloadName, 'sleep');
    assert.equal(b?.workloadName, 'curl');
    assert.equal(parsePeerHeader(sleep), a, 'the same value gives the shared decoded object');
    assert.equal(parsePeerHeader([curl, sleep]), b, 'the first of repeated headers');
  });

  it('unreadable values are undefined, every time, without throwing', () => {
    assert.equal(parsePeerHeader('%%% not base64 protobuf %%%'), undefined);
    assert.equal(parsePeerHeader('%%% not base64 protobuf %%%'), undefined);
    assert.equal(parsePeerHeader(''), undefined);
    assert.equal(parsePeerHeader(undefined), undefined);
  });
});
