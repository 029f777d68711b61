/** Access-log formatting: Istio's TEXT line byte for byte, the JSON map, custom formats; debug loggers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamInfo } from '../src/proxy/index.js';
import {
  accessLoggerFromOptions,
  DebugLog,
  jsonFormatter,
  newStreamInfo,
  setFlag,
  textFormatter,
} from '../src/proxy/index.js';

/** The seed's first NC line (lab notes, line 664) as stream info. */
function seedNc(): StreamInfo {
  const s = newStreamInfo(1, '1', '10.10.0.6:8080', '172.18.0.1:40804');
  s.startTime = Date.parse('2025-05-17T03:40:27.455Z');
  s.startMono = 0;
  s.endMono = 0.4;
  s.method = 'GET';
  s.path = '/items';
  s.authority = 'catalog.istioinaction.io:30000';
  s.requestHeaders = {
    'x-forwarded-for': '172.18.0.1',
    'user-agent': 'curl/8.13.0',
    'x-request-id': '4cf735c9-d09b-9769-9bf0-83fefa1b6931',
  };
  s.responseCode = 503;
  setFlag(s, 'NC');
  s.details = 'cluster_not_found';
  return s;
}

/** The seed's 504 line (lab notes, line 1608). */
function seedUt(): StreamInfo {
  const s = newStreamInfo(1, '1', '10.10.0.6:8080', '172.18.0.1:39860');
  s.startTime = Date.parse('2025-05-17T08:31:52.322Z');
  s.startMono = 1000;
  s.endMono = 1499.6;
  s.method = 'GET';
  s.path = '/items';
  s.authority = 'catalog.istioinaction.io:30000';
  s.requestHeaders = {
    'x-forwarded-for': '172.18.0.1',
    'user-agent': 'curl/8.13.0',
    'x-request-id': '665c29ba-1596-989d-b1d9-603f65457c8e',
  };
  s.responseCode = 504;
  setFlag(s, 'UT');
  s.details = 'response_timeout';
  s.bytesSent = 24;
  s.upstreamHost = '10.10.0.13:3000';
  s.upstreamCluster = 'outbound|80|version-v2|catalog.istioinaction.svc.cluster.local';
  s.upstreamLocalAddress = '10.10.0.6:60144';
  return s;
}

describe('access log formats', () => {
  it('formats the seed NC line byte for byte', () => {
    assert.equal(
      textFormatter()(seedNc()),
      '[2025-05-17T03:40:27.455Z] "GET /items HTTP/1.1" 503 NC cluster_not_found - "-" 0 0 0 - "172.18.0.1" "curl/8.13.0" "4cf735c9-d09b-9769-9bf0-83fefa1b6931" "catalog.istioinaction.io:30000" "-" - - 10.10.0.6:8080 172.18.0.1:40804 - -\n',
    );
  });

  it('formats the seed UT line byte for byte', () => {
    assert.equal(
      textFormatter()(seedUt()),
      '[2025-05-17T08:31:52.322Z] "GET /items HTTP/1.1" 504 UT response_timeout - "-" 0 24 499 - "172.18.0.1" "curl/8.13.0" "665c29ba-1596-989d-b1d9-603f65457c8e" "catalog.istioinaction.io:30000" "10.10.0.13:3000" outbound|80|version-v2|catalog.istioinaction.svc.cluster.local 10.10.0.6:60144 10.10.0.6:8080 172.18.0.1:39860 - -\n',
    );
  });

  it('formats the seed JSON entry with typed values and nulls', () => {
    const s = seedUt();
    const line = jsonFormatter()(s);
    assert.ok(line.endsWith('}\n'));
    const o = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual(o, {
      x_forwarded_for: '172.18.0.1',
      upstream_service_time: null,
      connection_termination_details: null,
      upstream_cluster: 'outbound|80|version-v2|catalog.istioinaction.svc.cluster.local',
      request_id: '665c29ba-1596-989d-b1d9-603f65457c8e',
      method: 'GET',
      response_flags: 'UT',
      protocol: 'HTTP/1.1',
      upstream_host: '10.10.0.13:3000',
      response_code_details: 'response_timeout',
      requested_server_name: null,
      downstream_local_address: '10.10.0.6:8080',
      upstream_transport_failure_reason: null,
      route_name: null,
      upstream_local_address: '10.10.0.6:60144',
      path: '/items',
      downstream_remote_address: '172.18.0.1:39860',
      bytes_received: 0,
      bytes_sent: 24,
      response_code: 504,
      start_time: '2025-05-17T08:31:52.322Z',
      user_agent: 'curl/8.13.0',
      duration: 499,
      authority: 'catalog.istioinaction.io:30000',
    });
  });

  it('supports custom formats: truncation, fallbacks, START_TIME formats, unknown operators', () => {
    const s = seedUt();
    s.originalPath = '/api/items';
    const f = textFormatter(
      '%REQ(X-REQUEST-ID):8% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %REQ(:PATH)% %START_TIME(%Y/%m/%d %H:%M:%S.%3f)% %NOPE% %RESPONSE_FLAGS_LONG% %UPSTREAM_CLUSTER% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%',
    );
    assert.equal(
      f(s),
      '665c29ba /api/items /items 2025/05/17 08:31:52.322 - UpstreamRequestTimeout outbound|80|version-v2|catalog.istioinaction.svc.cluster.local 172.18.0.1\n',
    );
  });

  it('joins several flags in Envoy order', () => {
    const s = seedNc();
    setFlag(s, 'URX');
    setFlag(s, 'UF');
    assert.match(textFormatter('%RESPONSE_FLAGS%')(s), /^UF,URX,NC\n$/);
  });

  it('falls back to the default JSON map when the custom JSON format is invalid', () => {
    const lines: string[] = [];
    const logger = accessLoggerFromOptions({
      encoding: 'JSON',
      format: '{not json',
      sink: (l) => lines.push(l),
    });
    const o = JSON.parse(logger.format(seedNc())) as Record<string, unknown>;
    assert.equal(Object.keys(o).length, 24);
    const custom = accessLoggerFromOptions({
      encoding: 'JSON',
      format: '{"code":"%RESPONSE_CODE%","x":"a %PROTOCOL%"}',
    });
    assert.equal(custom.format(seedNc()), '{"code":503,"x":"a HTTP/1.1"}\n');
  });
});

describe('debug loggers', () => {
  it('lists Envoy loggers and applies levels like /logging', () => {
    const log = new DebugLog(() => undefined);
    assert.match(log.render(), /^active loggers:\n {2}admin: warning\n/);
    assert.match(log.render(), /\n {2}misc: error\n/);
    assert.equal(log.enabled('router'), false);
    assert.equal(log.setPaths('http:debug,router:debug'), undefined);
    assert.equal(log.enabled('router'), true);
    assert.equal(log.setPaths('http:info,nope:debug'), 'unknown logger name');
    assert.equal(log.level('http'), 'debug', 'a refused change applies nothing');
    assert.equal(log.setPaths('http:loud'), 'unknown logger level');
    assert.equal(log.enabled('pool'), false);
    assert.equal(log.setLevel('nope', 'debug'), false);
    assert.equal(log.setLevel('pool', 'loud'), false);
    assert.equal(log.setAll('error'), true);
    assert.equal(log.level('router'), 'error');
  });

  it('writes Envoy-style lines with connection and stream ids', () => {
    const lines: string[] = [];
    const log = new DebugLog((l) => lines.push(l));
    log.write(
      'router',
      'debug',
      'external/envoy/source/common/router/router.cc:947',
      'upstream timeout',
      11988,
      '125',
    );
    assert.match(
      lines[0] ?? '',
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\tdebug\tenvoy router external\/envoy\/source\/common\/router\/router\.cc:947\t\[C11988\]\[S125\] upstream timeout\tthread=\d+\n$/,
    );
  });
});
