/**
 * Per-connection state: who the proxy is and, per type URL, what it subscribed to, what was sent (version,
 * nonce, resource hashes), what it acknowledged and its last rejection. Sync status derives only from these
 * nonces, as istiod's statusgen does.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { Proxy, ProxyResources, PushContext } from '../index.js';
import { MessageWriter } from './grpc-frames.js';

export type ConfigStatus = 'SYNCED' | 'NOT_SENT' | 'STALE' | 'ERROR';

export interface WatchState {
  readonly typeUrl: string;
  /** Subscribed to everything of this type (CDS/LDS `*` or the legacy empty list). */
  wildcard: boolean;
  /** Names subscribed explicitly. */
  names: Set<string>;
  nonceSent: string;
  versionSent: string;
  lastSendTime?: Date;
  nonceAcked: string;
  versionAcked: string;
  nonceNacked: string;
  /** The error_detail message of the last NACK; cleared by the next ACK. */
  lastError: string;
  lastErrorCode?: number;
  /** What the client holds, name → content hash (SotW: merged over partial EDS/RDS responses). */
  sent: Map<string, string>;
  /** Answer the next request even if it looks like an ACK (EDS after a CDS re-subscription). */
  alwaysRespond: boolean;
  /**
   * SotW CDS/LDS: the signature of the shared part of the last whole-set response, kept while `sent` holds
   * exactly that response (one entry per resource), so "unchanged" needs no walk over the shared part.
   */
  sentPrefixSignature?: string;
  /** SotW EDS/RDS: `sent` holds every (name, hash) of the desired list with this signature. */
  sentListSignature?: string;
  /** The signature of `names` (SotW replaces the set on every request, so identity tells it is current). */
  namesKey?: { names: Set<string>; signature: string };
}

export function newWatch(typeUrl: string): WatchState {
  return {
    typeUrl,
    wildcard: false,
    names: new Set(),
    nonceSent: '',
    versionSent: '',
    nonceAcked: '',
    versionAcked: '',
    nonceNacked: '',
    lastError: '',
    sent: new Map(),
    alwaysRespond: false,
  };
}

/** istiod's debugSyncStatus: ERROR, else NOT_SENT, else SYNCED when the last nonce sent is acked, else STALE. */
export function watchStatus(w: WatchState): ConfigStatus {
  if (w.lastError !== '') return 'ERROR';
  if (w.nonceSent === '') return 'NOT_SENT';
  if (w.nonceAcked === w.nonceSent) return 'SYNCED';
  return 'STALE';
}

export type StreamKind = 'sotw' | 'delta';

export class Connection {
  readonly watches = new Map<string, WatchState>();
  closed = false;
  /** A debug client (`debug~...` node, e.g. istioctl): answered on debug types, never pushed config. */
  debug = false;
  /** The last generation for this proxy, reused while the push context is the same. */
  generated?: { push: PushContext; resources: ProxyResources };
  /** Writes waiting for their completion callback; failed at once when the connection closes. */
  readonly pendingWrites = new Set<(err?: Error) => void>();
  /** Requests and pushes for one connection run one after another; connections never wait for each other. */
  private chain: Promise<void> = Promise.resolve();
  /** Writes responses onto the stream (shared bodies without copies). */
  readonly writer: MessageWriter;

  constructor(
    readonly id: string,
    readonly proxy: Proxy,
    readonly kind: StreamKind,
    readonly peerAddress: string,
    readonly connectedAt: Date,
    readonly stream: ServerDuplexStream<unknown, unknown>,
    readonly locality: Record<string, string>,
  ) {
    this.writer = new MessageWriter(stream);
  }

  /** Runs `task` after everything queued before it on this connection. */
  serialize(task: () => Promise<void>, onError: (err: unknown) => void): Promise<void> {
    const next = this.chain.then(() => (this.closed ? undefined : task())).catch(onError);
    this.chain = next;
    return next;
  }

  abortWrites(err: Error): void {
    for (const settle of [...this.pendingWrites]) settle(err);
    this.pendingWrites.clear();
  }

  /** Watched type URLs in push order. */
  watchedTypes(order: (typeUrl: string) => number): string[] {
    return [...this.watches.keys()].sort((a, b) => order(a) - order(b) || (a < b ? -1 : a > b ? 1 : 0));
  }
}
