/**
 * The agent's workload certificate cache (security/pkg/nodeagent/cache/secretcache.go): a key and CSR for
 * the workload's identity, signed by the CA, renewed at half its lifetime (with a little jitter), retried
 * with exponential backoff on failure while the previous certificate keeps being served. Subscribers get
 * the SDS `default` and `ROOTCA` secrets on every change.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { requestWorkloadCertificate } from './ca-client.js';
import type { CertificateRequestOptions } from './ca-client.js';
import { createWorkloadKeyAndCsr } from './csr.js';
import type { KeyAlgorithm } from './keys.js';
import { rotationDelayMs } from './rotation.js';
import {
  certInfoOf,
  concatCerts,
  rootCaSecret,
  ROOT_SECRET_NAME,
  WORKLOAD_SECRET_NAME,
  workloadSecret,
} from './sds.js';
import type { CertInfo, SdsSecret } from './sds.js';

/** SECRET_TTL: the lifetime the agent asks for. */
export const DEFAULT_SECRET_TTL_SECONDS = 24 * 3600;

export interface WorkloadCert {
  /** Every element of the CA's answer, joined (what Envoy gets as the chain). */
  certChainPem: string;
  keyPem: string;
  rootCertPem: string;
  /** When the agent received it (Istio's CreatedTime) and the leaf's notAfter. */
  createdAt: Date;
  expiresAt: Date;
  serialNumber: string;
}

export type CertificateRequester = (opts: CertificateRequestOptions) => Promise<string[]>;

export interface WorkloadCertManagerOptions {
  /** spiffe://<td>/ns/<ns>/sa/<sa>; put into the CSR (the CA decides anyway). */
  identity: string;
  caAddress: string;
  /** The mesh root used to verify istiod (the istio-ca-root-cert ConfigMap). */
  rootCertPem: string;
  /** The service-account token, or a function reading the current one (projected tokens rotate). */
  token?: string | (() => string | Promise<string>);
  ttlSeconds?: number;
  keyAlgorithm?: KeyAlgorithm;
  serverName?: string;
  clusterId?: string;
  graceRatio?: number;
  graceRatioJitter?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Failures are reported here (the agent logs them); the manager keeps retrying. */
  onError?: (err: Error) => void;
  random?: () => number;
  requester?: CertificateRequester;
}

export class WorkloadCertManager {
  private cert: WorkloadCert | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failures = 0;
  private readonly listeners = new Set<(secrets: SdsSecret[], cert: WorkloadCert) => void>();
  private firstWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private started = false;

  constructor(private readonly opts: WorkloadCertManagerOptions) {}

  /** Resolves once the first certificate is in (retrying until then); rejects only if closed first. */
  start(): Promise<void> {
    if (this.cert) return Promise.resolve();
    const first = new Promise<void>((resolve, reject) => this.firstWaiters.push({ resolve, reject }));
    if (!this.started) {
      this.started = true;
      void this.refresh();
    }
    return first;
  }

  /** Called with the new secrets after every issue or renewal; returns an unsubscribe function. */
  onUpdate(cb: (secrets: SdsSecret[], cert: WorkloadCert) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  current(): WorkloadCert | undefined {
    return this.cert;
  }

  /** The SDS secrets `default` and `ROOTCA` (empty before the first certificate). */
  secrets(): SdsSecret[] {
    const c = this.cert;
    if (!c) return [];
    return [workloadSecret(c.certChainPem, c.keyPem), rootCaSecret(c.rootCertPem)];
  }

  /** One row per secret for `proxy-config secret`. */
  certInfo(now = new Date()): CertInfo[] {
    const c = this.cert;
    if (!c) return [];
    return [
      certInfoOf(WORKLOAD_SECRET_NAME, c.certChainPem, now),
      certInfoOf(ROOT_SECRET_NAME, c.rootCertPem, now),
    ].filter((x): x is CertInfo => x !== undefined);
  }

  /** Renews now (e.g. after the root changed). */
  rotateNow(): Promise<void> {
    this.clearTimer();
    return this.refresh();
  }

  close(): void {
    this.closed = true;
    this.clearTimer();
    for (const w of this.firstWaiters.splice(0)) w.reject(new Error('workload certificate manager closed'));
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.clearTimer();
    this.timer = setTimeout(() => void this.refresh(), delayMs);
    this.timer.unref?.();
  }

  private async refresh(): Promise<void> {
    if (this.closed) return;
    try {
      const cert = await this.issue();
      if (this.closed) return;
      this.cert = cert;
      this.failures = 0;
      for (const w of this.firstWaiters.splice(0)) w.resolve();
      const secrets = this.secrets();
      for (const cb of this.listeners) {
        try {
          cb(secrets, cert);
        } catch (e) {
          this.opts.onError?.(e as Error);
        }
      }
      this.schedule(
        rotationDelayMs({
          createdMs: cert.createdAt.getTime(),
          expireMs: cert.expiresAt.getTime(),
          nowMs: Date.now(),
          ...(this.opts.graceRatio !== undefined ? { graceRatio: this.opts.graceRatio } : {}),
          ...(this.opts.graceRatioJitter !== undefined
            ? { graceRatioJitter: this.opts.graceRatioJitter }
            : {}),
          ...(this.opts.random ? { random: this.opts.random } : {}),
        }),
      );
    } catch (e) {
      if (this.closed) return;
      this.opts.onError?.(e as Error);
      this.failures++;
      this.schedule(this.backoffMs());
    }
  }

  /** Exponential backoff with ±10% jitter, capped. */
  private backoffMs(): number {
    const initial = this.opts.retryInitialMs ?? 1000;
    const max = this.opts.retryMaxMs ?? 30_000;
    const base = Math.min(max, initial * 2 ** Math.min(this.failures - 1, 30));
    const random = this.opts.random ?? Math.random;
    return Math.round(base * (0.9 + 0.2 * random()));
  }

  private async issue(): Promise<WorkloadCert> {
    const o = this.opts;
    const { keyPem, csrPem } = await createWorkloadKeyAndCsr(
      o.identity,
      o.keyAlgorithm ? { keyAlgorithm: o.keyAlgorithm } : {},
    );
    const token = typeof o.token === 'function' ? await o.token() : o.token;
    const chain = await (o.requester ?? requestWorkloadCertificate)({
      address: o.caAddress,
      rootCertPem: o.rootCertPem,
      csrPem,
      ttlSeconds: o.ttlSeconds ?? DEFAULT_SECRET_TTL_SECONDS,
      ...(token ? { token } : {}),
      ...(o.serverName ? { serverName: o.serverName } : {}),
      ...(o.clusterId ? { clusterId: o.clusterId } : {}),
    });
    const leaf = new X509Certificate(chain[0]!);
    const ours = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
    if (!ours.equals(leaf.publicKey.export({ type: 'spki', format: 'der' }))) {
      throw new Error('the CA returned a certificate for a different key than the CSR');
    }
    return {
      certChainPem: concatCerts(chain),
      keyPem,
      rootCertPem: chain[chain.length - 1]!,
      createdAt: new Date(),
      expiresAt: new Date(leaf.validTo),
      serialNumber: leaf.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    };
  }
}
