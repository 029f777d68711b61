/**
 * A TCP forwarder: accepts on one address and splices each connection to a target chosen per connection.
 * The lab uses it where a real cluster has the kernel do the work: a Service's cluster IP and node ports
 * (kube-proxy) and a sidecar's passthrough of application ports it has no listener for.
 */
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface ForwardTarget {
  host: string;
  port: number;
}

export interface TcpForwarder {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts forwarding; `pick` returns undefined when there is nowhere to go (the connection is reset). */
export function startTcpForwarder(
  host: string,
  port: number,
  pick: () => ForwardTarget | undefined,
): Promise<TcpForwarder> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((downstream) => {
    sockets.add(downstream);
    downstream.on('close', () => sockets.delete(downstream));
    downstream.on('error', () => undefined);
    const target = pick();
    if (!target) {
      downstream.resetAndDestroy();
      return;
    }
    const upstream = connect({ host: target.host, port: target.port });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => downstream.resetAndDestroy());
    downstream.on('error', () => upstream.destroy());
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      server.on('error', () => undefined);
      resolve({
        host,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}
