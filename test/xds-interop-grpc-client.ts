/**
 * The proxyless gRPC client of the interop tests, run as a child process because grpc-js-xds reads its
 * bootstrap (GRPC_XDS_BOOTSTRAP_CONFIG) once per process. It keeps one channel per target for its whole
 * life, so config pushed later reaches the same running client, and answers requests over IPC:
 * `{id, target, count, concurrency, metadata, delayMs}` → `{id, backends: {name: n}, errors: {code: n}, ms}`.
 */
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import { ECHO_PATH, deserializeJson, serializeJson } from './grpc-echo.js';
import type { EchoReply, EchoRequest } from './grpc-echo.js';

const require = createRequire(import.meta.url);
(require('@grpc/grpc-js-xds') as { register(): void }).register();

export interface CallBatch {
  id: number;
  target: string;
  count: number;
  concurrency?: number;
  metadata?: Record<string, string>;
  delayMs?: number;
  /** Client deadline per RPC, ms (default 5000). */
  deadlineMs?: number;
}

export interface BatchResult {
  id: number;
  backends: Record<string, number>;
  errors: Record<string, number>;
  /** Longest single RPC, ms. */
  maxMs: number;
  lastError?: string;
}

const clients = new Map<string, grpc.Client>();

function clientFor(target: string): grpc.Client {
  let c = clients.get(target);
  if (!c) {
    c = new grpc.Client(target, grpc.credentials.createInsecure());
    clients.set(target, c);
  }
  return c;
}

function callOnce(
  batch: CallBatch,
): Promise<{ backend?: string; code?: number; message?: string; ms: number }> {
  const client = clientFor(batch.target);
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(batch.metadata ?? {})) md.set(k, v);
  const started = Date.now();
  const request: EchoRequest = { delayMs: batch.delayMs ?? 0 };
  return new Promise((resolve) => {
    client.makeUnaryRequest<EchoRequest, EchoReply>(
      ECHO_PATH,
      serializeJson,
      (b: Buffer) => deserializeJson<EchoReply>(b),
      request,
      md,
      { deadline: Date.now() + (batch.deadlineMs ?? 5000) },
      (err, reply) => {
        const ms = Date.now() - started;
        if (err) resolve({ code: err.code, message: err.details, ms });
        else resolve({ backend: reply?.backend ?? '?', ms });
      },
    );
  });
}

async function runBatch(batch: CallBatch): Promise<BatchResult> {
  const result: BatchResult = { id: batch.id, backends: {}, errors: {}, maxMs: 0 };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batch.count) {
      next++;
      const r = await callOnce(batch);
      result.maxMs = Math.max(result.maxMs, r.ms);
      if (r.backend !== undefined) result.backends[r.backend] = (result.backends[r.backend] ?? 0) + 1;
      else {
        const key = String(r.code);
        result.errors[key] = (result.errors[key] ?? 0) + 1;
        result.lastError = r.message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, batch.concurrency ?? 1) }, worker));
  return result;
}

process.on('message', (msg: CallBatch | 'exit') => {
  if (msg === 'exit') {
    for (const c of clients.values()) c.close();
    process.exit(0);
  }
  void runBatch(msg).then((r) => process.send?.(r));
});
process.send?.({ ready: true });
