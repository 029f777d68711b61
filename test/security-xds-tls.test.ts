/**
 * xDS on istiod's TLS port: a sidecar that got its SPIFFE certificate from the control plane's CA (over
 * 15012, token-authenticated) then receives its config on the same port over mutual TLS; a client that
 * does not trust the mesh root gets no config.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PilotHandle } from '../src/pilot/index.js';
import { startPilot } from '../src/pilot/index.js';
import {
  WorkloadCertManager,
  createSelfSignedRoot,
  issueServiceAccountToken,
  istiodChannelCredentials,
  spiffeUri,
} from '../src/security/index.js';
import { AdsClient, sidecarNode } from '../src/xds/index.js';
import { tempDir } from './helpers.js';

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: istioinaction }
---
apiVersion: v1
kind: Service
metadata: { name: catalog, namespace: istioinaction }
spec:
  clusterIP: 10.200.0.10
  selector: { app: catalog }
  ports: [{ name: http, port: 80, targetPort: 3000 }]
`;

const NODE = sidecarNode({
  ip: '10.10.0.9',
  podName: 'webapp-7d5b9c8d9-abcde',
  namespace: 'istioinaction',
  serviceAccount: 'webapp',
});

/** Resolves with the applied cluster names once `want` is among them (EDS clusters warm until endpoints come). */
function waitForCluster(client: AdsClient, want: string, ms: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no cluster ${want} within ${ms} ms`)), ms);
    client.on('update', () => {
      const names = Object.keys(client.snapshot().clusters);
      if (!names.includes(want)) return;
      clearTimeout(timer);
      resolve(names);
    });
  });
}

const CATALOG = 'outbound|80||catalog.istioinaction.svc.cluster.local';

describe('xDS over mutual TLS on the CA port (15012)', () => {
  let pilot: PilotHandle;
  let certs: WorkloadCertManager;

  before(async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'mesh.yaml'), MANIFESTS);
    pilot = await startPilot({ configDir: dir, grpcPort: 0, httpPort: 0, monitoringPort: 0, env: {} });
    assert.ok(pilot.secureAddress && pilot.ca && pilot.tokenKey, 'the pilot serves its TLS port');
    const tokenKey = pilot.tokenKey;
    certs = new WorkloadCertManager({
      identity: spiffeUri('cluster.local', 'istioinaction', 'webapp'),
      caAddress: pilot.secureAddress,
      rootCertPem: pilot.ca.rootCertPem,
      token: () => issueServiceAccountToken(tokenKey, 'istioinaction', 'webapp', 600),
      keyAlgorithm: 'ECDSA',
    });
    await certs.start();
  });

  after(async () => {
    certs.close();
    await pilot.close();
  });

  it('a sidecar with its workload certificate gets its clusters over mTLS', async () => {
    const cert = certs.current();
    assert.ok(cert);
    const channel = istiodChannelCredentials(pilot.ca?.rootCertPem ?? '', cert);
    const client = new AdsClient({
      target: pilot.secureAddress ?? '',
      node: NODE,
      credentials: channel.credentials,
      channelOptions: channel.options,
    });
    try {
      const clusters = waitForCluster(client, CATALOG, 20_000);
      client.start();
      assert.ok((await clusters).includes(CATALOG));
    } finally {
      client.close();
    }
  });

  it('a client that does not trust the mesh root gets nothing', async () => {
    const foreign = await createSelfSignedRoot({ trustDomain: 'cluster.local' });
    const channel = istiodChannelCredentials(foreign.certPem);
    const client = new AdsClient({
      target: pilot.secureAddress ?? '',
      node: NODE,
      credentials: channel.credentials,
      channelOptions: channel.options,
    });
    try {
      client.start();
      await assert.rejects(waitForCluster(client, CATALOG, 3_000), /no cluster/);
    } finally {
      client.close();
    }
  });

  it('the plaintext port still serves xDS beside it', async () => {
    const client = new AdsClient({ target: pilot.grpcAddress, node: NODE });
    try {
      const clusters = waitForCluster(client, CATALOG, 20_000);
      client.start();
      assert.ok((await clusters).includes(CATALOG));
    } finally {
      client.close();
    }
  });
});
