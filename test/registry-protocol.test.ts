import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  isHTTP2Protocol,
  isHTTPProtocol,
  isTCPProtocol,
  isTLSProtocol,
  kubePortProtocol,
  parseProtocol,
  PROTOCOL,
} from '../src/registry/index.js';

test('kubePortProtocol: the port name prefix, as Istio 1.17 reads it', () => {
  const cases: [string, string][] = [
    ['http', 'HTTP'],
    ['HTTP', 'HTTP'],
    ['http-foo', 'HTTP'],
    ['Http-Foo-bar', 'HTTP'],
    ['http2', 'HTTP2'],
    ['http2-api', 'HTTP2'],
    ['grpc', 'GRPC'],
    ['grpc-api', 'GRPC'],
    ['grpc-web', 'GRPC-Web'],
    ['GRPC-Web-ui', 'GRPC-Web'],
    // The grpc-web prefix is matched before the name is cut at '-'.
    ['grpc-webui', 'GRPC-Web'],
    ['https', 'HTTPS'],
    ['https-admin', 'HTTPS'],
    ['tcp', 'TCP'],
    ['tcp-db', 'TCP'],
    ['tls', 'TLS'],
    ['tls-passthrough', 'TLS'],
    ['mongo', 'Mongo'],
    ['mongo-primary', 'Mongo'],
    ['redis', 'Redis'],
    ['mysql', 'MySQL'],
    ['udp', 'UDP'],
    ['http_proxy', 'HTTP_PROXY'],
    // Not a prefix followed by '-': auto-detection.
    ['httpfoo', 'UnsupportedProtocol'],
    ['web', 'UnsupportedProtocol'],
    ['foo-http', 'UnsupportedProtocol'],
    ['', 'UnsupportedProtocol'],
    ['-http', 'UnsupportedProtocol'],
  ];
  for (const [name, want] of cases) assert.equal(kubePortProtocol(8080, name, 'TCP'), want, name);
});

test('kubePortProtocol: appProtocol wins over the name, UDP wins over both', () => {
  assert.equal(kubePortProtocol(80, 'tcp-x', 'TCP', 'http'), PROTOCOL.HTTP);
  assert.equal(kubePortProtocol(80, 'http', 'TCP', 'grpc-web'), PROTOCOL.GRPCWeb);
  // An empty appProtocol is still "set": the name is not consulted.
  assert.equal(kubePortProtocol(80, 'http', 'TCP', ''), PROTOCOL.Unsupported);
  assert.equal(kubePortProtocol(80, 'http', 'UDP', 'http'), PROTOCOL.UDP);
  assert.equal(kubePortProtocol(80, 'http', undefined), PROTOCOL.HTTP);
});

test('kubePortProtocol: unnamed ports are sniffed, except the well-known TCP ports', () => {
  assert.equal(kubePortProtocol(80, undefined, 'TCP'), PROTOCOL.Unsupported);
  assert.equal(kubePortProtocol(8080, 'metrics', 'TCP'), PROTOCOL.Unsupported);
  for (const port of [25, 53, 3306, 27017]) assert.equal(kubePortProtocol(port, '', 'TCP'), PROTOCOL.TCP);
  // A recognised name still wins on a well-known port.
  assert.equal(kubePortProtocol(3306, 'http', 'TCP'), PROTOCOL.HTTP);
});

test('parseProtocol: whole names only, case-insensitive, bad input is Unsupported', () => {
  assert.equal(parseProtocol('HTTP'), PROTOCOL.HTTP);
  assert.equal(parseProtocol('grpc-WEB'), PROTOCOL.GRPCWeb);
  assert.equal(parseProtocol('http-foo'), PROTOCOL.Unsupported);
  assert.equal(parseProtocol(undefined), PROTOCOL.Unsupported);
  assert.equal(parseProtocol(42), PROTOCOL.Unsupported);
});

test('protocol families', () => {
  assert.ok(isHTTPProtocol(PROTOCOL.GRPC) && isHTTPProtocol(PROTOCOL.HTTP));
  assert.ok(!isHTTPProtocol(PROTOCOL.HTTPS) && !isHTTPProtocol(PROTOCOL.Unsupported));
  assert.ok(isHTTP2Protocol(PROTOCOL.GRPCWeb) && !isHTTP2Protocol(PROTOCOL.HTTP));
  assert.ok(isTCPProtocol(PROTOCOL.Mongo) && !isTCPProtocol(PROTOCOL.UDP) && !isTCPProtocol(PROTOCOL.HTTP));
  assert.ok(isTLSProtocol(PROTOCOL.TLS) && !isTLSProtocol(PROTOCOL.TCP));
});
