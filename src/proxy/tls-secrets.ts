/**
 * SDS secrets the engine resolves TLS contexts against (extensions.transport_sockets.tls.v3.Secret in
 * proto3 JSON): key pairs (`tlsCertificate`) and trust bundles (`validationContext.trustedCa`). Two
 * sources, as in Istio: the snapshot's secrets (SDS over ADS, e.g. a gateway's `kubernetes://name`) and
 * the ones the agent supplies (`default`, `ROOTCA`); the agent's win for the same name. Every parsed
 * secret carries a version so TLS contexts built from it are rebuilt only when it changes.
 */
import type { JsonObject } from './json.js';
import { record, records, str } from './json.js';

export interface ParsedSecret {
  name: string;
  /** PEM certificate chain and private key. */
  tlsCertificate?: { certChain: string; privateKey: string };
  /** PEM trust bundle. */
  trustedCa?: string;
  /** Bumped on every change: TLS contexts are cached by it. */
  version: number;
}

let versions = 0;

/** A DataSource (`inlineBytes` base64, `inlineString`); file sources are the agent's business. */
export function dataSource(v: unknown): string | undefined {
  const ds = record(v);
  if (!ds) return undefined;
  const s = str(ds['inlineString']);
  if (s !== undefined && s !== '') return s;
  const b = str(ds['inlineBytes']);
  if (b !== undefined && b !== '') {
    const text = Buffer.from(b, 'base64').toString('utf8');
    return text === '' ? undefined : text;
  }
  return undefined;
}

/** One Secret resource, or undefined when it has no name or no usable material. */
export function parseSecret(v: JsonObject): ParsedSecret | undefined {
  const name = str(v['name']);
  if (name === undefined || name === '') return undefined;
  const out: ParsedSecret = { name, version: ++versions };
  const cert = record(v['tlsCertificate']);
  if (cert) {
    const certChain = dataSource(cert['certificateChain']);
    const privateKey = dataSource(cert['privateKey']);
    if (certChain !== undefined && privateKey !== undefined) out.tlsCertificate = { certChain, privateKey };
  }
  const validation = record(v['validationContext']);
  const ca = dataSource(validation?.['trustedCa']);
  if (ca !== undefined) out.trustedCa = ca;
  return out.tlsCertificate || out.trustedCa !== undefined ? out : undefined;
}

function sameMaterial(a: ParsedSecret | undefined, b: ParsedSecret): boolean {
  return (
    a !== undefined &&
    a.trustedCa === b.trustedCa &&
    a.tlsCertificate?.certChain === b.tlsCertificate?.certChain &&
    a.tlsCertificate?.privateKey === b.tlsCertificate?.privateKey
  );
}

export class SecretStore {
  private fromSnapshot = new Map<string, ParsedSecret>();
  private readonly fromAgent = new Map<string, ParsedSecret>();
  /** Bumped on every change that matters; contexts cached against an older generation are dropped. */
  generation = 0;

  /** Replaces the snapshot's secrets (SDS over ADS is state-of-the-world). */
  setSnapshotSecrets(list: unknown): void {
    const next = new Map<string, ParsedSecret>();
    for (const raw of records(list)) {
      const s = parseSecret(raw);
      if (!s) continue;
      const prev = this.fromSnapshot.get(s.name);
      next.set(s.name, sameMaterial(prev, s) && prev ? prev : s);
    }
    const changed =
      next.size !== this.fromSnapshot.size ||
      [...next].some(([name, s]) => this.fromSnapshot.get(name) !== s);
    this.fromSnapshot = next;
    if (changed) this.generation++;
  }

  /** Adds or replaces the agent's secrets by name (a rotation replaces `default`). */
  updateAgentSecrets(list: unknown): string[] {
    const applied: string[] = [];
    for (const raw of records(list)) {
      const s = parseSecret(raw);
      if (!s) continue;
      if (sameMaterial(this.fromAgent.get(s.name), s)) continue;
      this.fromAgent.set(s.name, s);
      applied.push(s.name);
    }
    if (applied.length > 0) this.generation++;
    return applied;
  }

  removeAgentSecrets(names: readonly string[]): void {
    let changed = false;
    for (const n of names) changed = this.fromAgent.delete(n) || changed;
    if (changed) this.generation++;
  }

  get(name: string): ParsedSecret | undefined {
    return this.fromAgent.get(name) ?? this.fromSnapshot.get(name);
  }

  names(): string[] {
    return [...new Set([...this.fromAgent.keys(), ...this.fromSnapshot.keys()])].sort();
  }
}
