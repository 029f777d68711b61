/**
 * A tiny gRPC echo service for the proxyless interop tests: JSON on the wire (no proto needed), replying
 * with the backend's name after an optional delay the request asks for.
 */
import * as grpc from '@grpc/grpc-js';

export const ECHO_PATH = '/skiff.test.Echo/Call';

export interface EchoRequest {
  delayMs?: number;
}

export interface EchoReply {
  backend: string;
}

export function serializeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value ?? null));
}

export function deserializeJson<T>(bytes: Buffer): T {
  return JSON.parse(bytes.toString('utf8')) as T;
}

const ECHO_SERVICE: grpc.ServiceDefinition = {
  Call: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: serializeJson,
    requestDeserialize: (b: Buffer) => deserializeJson<EchoRequest>(b),
    responseSerialize: serializeJson,
    responseDeserialize: (b: Buffer) => deserializeJson<EchoReply>(b),
  },
};

export interface EchoServer {
  name: string;
  port: number;
  calls: number;
  close(): Promise<void>;
}

/** A plaintext echo server on 127.0.0.1 and a free port. */
export async function startEchoServer(name: string): Promise<EchoServer> {
  const server = new grpc.Server();
  const handle: EchoServer = {
    name,
    port: 0,
    calls: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
      }),
  };
  server.addService(ECHO_SERVICE, {
    Call: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
      handle.calls++;
      const delay = typeof call.request?.delayMs === 'number' ? call.request.delayMs : 0;
      const reply = () => callback(null, { backend: name });
      if (delay > 0) setTimeout(reply, delay);
      else reply();
    },
  });
  handle.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
  return handle;
}
