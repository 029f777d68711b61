/**
 * IstioCertificateService over real gRPC with TLS on 127.0.0.1 (port 0): token and client-certificate
 * authentication, the status codes for each bad input, and istiod's server certificate.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  CaRequestError,
  addCaService,
  authenticateCall,
  caAuthenticator,
  createWorkloadKeyAndCsr,
  istiodChannelCredentials,
  istiodServerCredentials,
  issueServiceAccountToken,
  loadOrCreateCa,
  loadOrCreateTokenKey,
  requestWorkloadCertificate,
} from '../src/security/index.js';
import type {
  CertificateAuthority,
  CertificateRequestOptions,
  IstiodServerCredentials,
} from '../src/security/index.js';

const SLEEP = 'spiffe://cluster.local/ns/default/sa/sleep';

let ca: CertificateAuthority;
let server: grpc.Server;
let address: string;
let istiodCreds: IstiodServerCredentials;
const key = loadOrCreateTokenKey();
let csrPem: string;
let keyPem: string;

before(async () => {
  ca = await loadOrCreateCa();
  server = new grpc.Server();
  addCaService(server, ca, caAuthenticator({ tokenKey: key }));
  istiodCreds = await istiodServerCredentials(ca, { dnsNames: ['istiod.istio-system.svc.cluster.local'] });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', istiodCreds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  address = `127.0.0.1:${port}`;
  ({ csrPem, keyPem } = await createWorkloadKeyAndCsr(SLEEP));
});

after(() => server.forceShutdown());

function request(extra: Partial<CertificateRequestOptions>): Promise<string[]> {
  return requestWorkloadCertificate({ address, rootCertPem: ca.rootCertPem, csrPem, ...extra });
}

async function rejectsWith(p: Promise<unknown>, code: grpc.status, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: CaRequestError) => {
    assert.equal(e.name, 'CaRequestError');
    assert.equal(e.code, code, `${grpc.status[e.code ?? -1]}: ${e.message}`);
    assert.match(e.message, message);
    return true;
  });
}

test('a token-authenticated CSR is signed for the token’s service account; chain ends with the root', async () => {
  const token = issueServiceAccountToken(key, 'default', 'sleep');
  const chain = await request({ token, ttlSeconds: 3600 });
  assert.equal(chain.length, 2);
  const leaf = new X509Certificate(chain[0]!);
  const root = new X509Certificate(chain[1]!);
  assert.equal(leaf.subjectAltName, `URI:${SLEEP}`);
  assert.ok(leaf.checkIssued(root) && leaf.verify(root.publicKey));
  assert.equal(chain[1], ca.rootCertPem);
  const hours = (Date.parse(leaf.validTo) - Date.now()) / 3600_000;
  assert.ok(hours > 0.95 && hours <= 1.01, `requested 1h, got ${hours}h`);
  // The CSR names no one: the identity still comes from the token.
  const { csrPem: anonymous } = await createWorkloadKeyAndCsr('');
  const [other] = await request({ token: issueServiceAccountToken(key, 'prod', 'api'), csrPem: anonymous });
  assert.equal(new X509Certificate(other!).subjectAltName, 'URI:spiffe://cluster.local/ns/prod/sa/api');
});

test('no token, a bad token or an expired token → Unauthenticated', async () => {
  await rejectsWith(
    request({}),
    grpc.status.UNAUTHENTICATED,
    /request authenticate failure: .*no HTTP authorization header exists/,
  );
  await rejectsWith(request({ token: 'not-a-jwt' }), grpc.status.UNAUTHENTICATED, /malformed token/);
  const forged = issueServiceAccountToken(loadOrCreateTokenKey(), 'default', 'sleep');
  await rejectsWith(request({ token: forged }), grpc.status.UNAUTHENTICATED, /invalid token signature/);
  const expired = issueServiceAccountToken(key, 'default', 'sleep', 10, {
    now: new Date(Date.now() - 60_000),
  });
  await rejectsWith(request({ token: expired }), grpc.status.UNAUTHENTICATED, /token expired/);
});

test('a CSR for another identity → PermissionDenied; garbage CSR and TTL over the max → InvalidArgument', async () => {
  const token = issueServiceAccountToken(key, 'prod', 'api');
  await rejectsWith(
    request({ token }),
    grpc.status.PERMISSION_DENIED,
    /CSR signing error \(the CSR asks for identity spiffe:\/\/cluster\.local\/ns\/default\/sa\/sleep but the caller is authenticated as spiffe:\/\/cluster\.local\/ns\/prod\/sa\/api\)/,
  );
  const mine = issueServiceAccountToken(key, 'default', 'sleep');
  await rejectsWith(
    request({ token: mine, csrPem: 'garbage' }),
    grpc.status.INVALID_ARGUMENT,
    /CSR signing error \(certificate signing request is not properly encoded\)/,
  );
  await rejectsWith(
    request({ token: mine, ttlSeconds: 91 * 24 * 3600 }),
    grpc.status.INVALID_ARGUMENT,
    /requested TTL 2184h0m0s is greater than the max allowed TTL 2160h0m0s/,
  );
});

test('a client certificate from the mesh CA authenticates without a token (mTLS on the same port)', async () => {
  const token = issueServiceAccountToken(key, 'default', 'sleep');
  const chain = await request({ token });
  const clientCert = { certChainPem: chain.join(''), keyPem };
  const { csrPem: renewal } = await createWorkloadKeyAndCsr(SLEEP);
  const renewed = await request({ csrPem: renewal, clientCert });
  assert.equal(new X509Certificate(renewed[0]!).subjectAltName, `URI:${SLEEP}`);
  // The certificate proves only its own identity.
  const { csrPem: foreign } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/prod/sa/api');
  await rejectsWith(
    request({ csrPem: foreign, clientCert }),
    grpc.status.PERMISSION_DENIED,
    /authenticated as spiffe:\/\/cluster\.local\/ns\/default\/sa\/sleep/,
  );
  // A certificate from another CA is not verified, so it proves nothing.
  const stranger = await loadOrCreateCa();
  const { csrPem: s, keyPem: sk } = await createWorkloadKeyAndCsr(SLEEP);
  const strangerChain = (await import('../src/security/index.js')).signWorkloadCsr(stranger, s, {
    identity: SLEEP,
  });
  await rejectsWith(
    request({ clientCert: { certChainPem: (await strangerChain).join(''), keyPem: sk } }),
    grpc.status.UNAUTHENTICATED,
    /no client certificate is presented/,
  );
});

test('istiod’s certificate: signed by the CA for istiod.istio-system.svc, the extra names and 127.0.0.1', async () => {
  const creds = await istiodServerCredentials(ca, { dnsNames: ['istiod.example'] });
  const leaf = new X509Certificate(creds.keyAndChain.certChainPem);
  assert.equal(leaf.subjectAltName, 'DNS:istiod.istio-system.svc, DNS:istiod.example, IP Address:127.0.0.1');
  assert.ok(leaf.checkIssued(new X509Certificate(ca.rootCertPem)));
  // A client insisting on another name fails the TLS check.
  await assert.rejects(
    request({
      token: issueServiceAccountToken(key, 'default', 'sleep'),
      serverName: 'evil.example',
      deadlineMs: 3000,
    }),
    (e: CaRequestError) => e.code === grpc.status.UNAVAILABLE,
  );
});

test('one port for the CA and an mTLS-authenticated stream service (as ADS shares 15012)', async () => {
  // A stand-in for ADS: a unary echo of the caller's identity, authenticated the way an xDS stream is.
  const shared = new grpc.Server();
  const authenticate = caAuthenticator({ tokenKey: key });
  addCaService(shared, ca, authenticate);
  const whoami: grpc.ServiceDefinition = {
    WhoAmI: {
      path: '/skiff.test.Identity/WhoAmI',
      requestStream: false,
      responseStream: false,
      requestSerialize: (v: string) => Buffer.from(v),
      requestDeserialize: (b: Buffer) => b.toString(),
      responseSerialize: (v: string) => Buffer.from(v),
      responseDeserialize: (b: Buffer) => b.toString(),
    },
  };
  shared.addService(whoami, {
    WhoAmI: (call: grpc.ServerUnaryCall<string, string>, cb: grpc.sendUnaryData<string>) => {
      try {
        const caller = authenticateCall(authenticate, call);
        cb(null, `${caller.authSource} ${caller.identities.join(',')}`);
      } catch (e) {
        cb({ code: grpc.status.UNAUTHENTICATED, details: (e as Error).message });
      }
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    shared.bindAsync('127.0.0.1:0', istiodCreds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  try {
    const sharedAddress = `127.0.0.1:${port}`;
    const chain = await requestWorkloadCertificate({
      address: sharedAddress,
      rootCertPem: ca.rootCertPem,
      csrPem,
      token: issueServiceAccountToken(key, 'default', 'sleep'),
    });
    const Client = grpc.makeGenericClientConstructor(whoami, 'Identity');
    const call = (clientCert?: { certChainPem: string; keyPem: string }): Promise<string> => {
      const channel = istiodChannelCredentials(ca.rootCertPem, clientCert);
      const client = new Client(sharedAddress, channel.credentials, channel.options) as unknown as {
        WhoAmI(req: string, cb: (err: grpc.ServiceError | null, res?: string) => void): void;
        close(): void;
      };
      return new Promise((resolve, reject) =>
        client.WhoAmI('who', (err, res) => {
          client.close();
          if (err) reject(err);
          else resolve(res ?? '');
        }),
      );
    };
    assert.equal(await call({ certChainPem: chain.join(''), keyPem }), `client-certificate ${SLEEP}`);
    await assert.rejects(call(), { code: grpc.status.UNAUTHENTICATED });
  } finally {
    shared.forceShutdown();
  }
});
