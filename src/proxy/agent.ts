/**
 * The pilot-agent side of a skiff sidecar, in the same process as the proxy but on its own servers:
 *
 * - 15020 (status): `/healthz/ready`, `/stats/prometheus` merged (proxy stats, then the app's metrics from
 *   its `prometheus.io/port`/`path`, then the agent's own `istio_agent_*`), `/app-health/<container>/
 *   livez|readyz|startupz` probe rewriting (ISTIO_KUBE_APP_PROBERS);
 * - 15021: `/healthz/ready` (Envoy's readiness listener, which Istio routes to the agent);
 * - 15090: `/stats/prometheus`, the proxy's stats only;
 * - 15004: `/debug/*` (e.g. `/debug/syncz`) relayed to the control plane through a callback the xDS client
 *   provides.
 *
 * Readiness follows Istio 1.17's probe: ready once CDS and LDS have each been applied and the proxy is LIVE.
 *
 * 15020 and 15004 are pilot-agent's Go servers, so their responses carry Go net/http's headers in its order
 * and spelling (`Date`, `Content-Length`, a sniffed `Content-Type` last) and no `Connection` header;
 * 15021 and 15090 stand in for Envoy's listeners and keep the plain Node form.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { AppProbe } from './app-probes.js';
import { parseAppProbers, runAppProbe } from './app-probes.js';
import type { ProxyEngine } from './engine.js';
import { observe } from './stats.js';

export interface AgentBind {
  host: string;
  port: number;
}

export interface DebugReply {
  status: number;
  body: string;
  /** The Content-Type the handler sets; without it a body is sniffed as Go does (`text/plain`). */
  type?: string;
}

export interface AgentOptions {
  status?: AgentBind;
  readiness?: AgentBind;
  prometheus?: AgentBind;
  debug?: AgentBind;
  /** ISTIO_KUBE_APP_PROBERS (JSON text or object). */
  appProbers?: unknown;
  /** Where the app listens for probes and metrics (Istio: localhost). */
  appHost?: string;
  /** The app's metrics endpoint (prometheus.io/port and prometheus.io/path annotations). */
  appMetrics?: { port: number; path?: string };
  /** Relays `/debug/<type>` on 15004 to the control plane (istiod's xDS debug types). */
  debugHandler?: (path: string, query: URLSearchParams) => Promise<DebugReply>;
  /** Extra agent metrics in Prometheus text (e.g. the xDS client's counters). */
  agentMetrics?: () => string;
  /**
   * Settles when the first config is applied: Envoy's `server.initialization_time_ms` then records the
   * time since the process started.
   */
  initialized?: Promise<void>;
}

const PROM_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Served {
  server: http.Server;
  bound: AgentBind;
}

type Route = (req: http.IncomingMessage, res: http.ServerResponse, path: string, q: URLSearchParams) => void;

/** The plain Node reply of the servers standing in for Envoy's listeners (15021, 15090). */
function send(res: http.ServerResponse, status: number, body = '', type = 'text/plain; charset=utf-8'): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Go's net/http buffers this much of a body before it gives up on Content-Length and chunks. */
const GO_BUFFER_BEFORE_CHUNKING = 2048;

/**
 * A reply as Go's net/http writes it: the headers the handler set (sorted, canonical case), then `Date`,
 * `Content-Length` (or `Transfer-Encoding: chunked` for a body over 2 KiB) and, for a body whose handler
 * set no type, the sniffed `Content-Type`; no `Connection` header on HTTP/1.1 keep-alive.
 */
function goSend(res: http.ServerResponse, status: number, body = '', set: [string, string][] = []): void {
  if (res.headersSent) return;
  const size = Buffer.byteLength(body);
  const chunked = size > GO_BUFFER_BEFORE_CHUNKING;
  const handlerSet = [...set].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const raw: string[] = handlerSet.flat();
  raw.push('Date', new Date().toUTCString());
  if (!chunked) raw.push('Content-Length', String(size));
  if (size > 0 && !handlerSet.some(([k]) => k === 'Content-Type')) {
    raw.push('Content-Type', 'text/plain; charset=utf-8');
  }
  if (chunked) raw.push('Transfer-Encoding', 'chunked');
  res.sendDate = false;
  // Node writes `Connection: keep-alive` unless told the header is removed; Go writes none.
  res.removeHeader('Connection');
  res.writeHead(status, raw);
  res.end(body);
}

/** Go's http.Error (and the mux's 404): a typed text body with nosniff. */
function goError(res: http.ServerResponse, status: number, message: string): void {
  goSend(res, status, `${message}\n`, [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['X-Content-Type-Options', 'nosniff'],
  ]);
}

export class Agent {
  private readonly servers = new Map<string, Served>();
  private readonly probes: Map<string, AppProbe>;
  private requests = 0;
  private readonly started = Date.now();
  private readyOnce = false;

  constructor(
    private readonly engine: ProxyEngine,
    private readonly opts: AgentOptions = {},
  ) {
    this.probes = parseAppProbers(opts.appProbers);
    void opts.initialized?.then(
      () => this.recordInitialization(),
      () => undefined,
    );
  }

  /** Envoy's `server.initialization_time_ms`: from process start to the first config applied. */
  private recordInitialization(): void {
    const name = 'server.initialization_time_ms';
    const h = this.engine.stats.histogram(name, name);
    if (h.count === 0) observe(h, Math.max(0, Math.round(Date.now() - performance.timeOrigin)));
  }

  /**
   * Why the proxy is not ready, or undefined when it is: Istio's checks, in order (config received,
   * then server state LIVE). Once config has been received the first check passes for good.
   */
  readiness(): string | undefined {
    if (!this.readyOnce) {
      if (!this.engine.hasConfig()) {
        const c = (name: string): number => this.engine.stats.counters.get(name)?.value ?? 0;
        return (
          'config not received from XDS server (is Istiod running?): ' +
          `cds updates: ${c('cluster_manager.cds.update_success')} successful, ${c('cluster_manager.cds.update_rejected')} rejected; ` +
          `lds updates: ${c('listener_manager.lds.update_success')} successful, ${c('listener_manager.lds.update_rejected')} rejected`
        );
      }
      this.readyOnce = true;
    }
    const state = this.engine.serverState;
    if (state !== 'LIVE') return `server is not live, current state is: ${state}`;
    return undefined;
  }

  async start(): Promise<void> {
    const ready: Route = (_req, res) => send(res, this.readiness() === undefined ? 200 : 503);
    await this.serve('status', this.opts.status ?? { host: '0.0.0.0', port: 15020 }, (req, res, path) => {
      if (path === '/healthz/ready') goSend(res, this.readiness() === undefined ? 200 : 503);
      else if (path === '/stats/prometheus') void this.mergedMetrics(res);
      else if (path.startsWith('/app-health/')) void this.appHealth(req, res, path);
      else goError(res, 404, '404 page not found');
    });
    await this.serve(
      'readiness',
      this.opts.readiness ?? { host: '0.0.0.0', port: 15021 },
      (req, res, path, q) => {
        if (path.startsWith('/healthz/ready')) ready(req, res, path, q);
        else send(res, 404);
      },
    );
    await this.serve(
      'prometheus',
      this.opts.prometheus ?? { host: '0.0.0.0', port: 15090 },
      (_req, res, path) => {
        if (path.startsWith('/stats/prometheus')) {
          this.engine.refreshServerStats();
          send(res, 200, this.engine.stats.renderPrometheus(), PROM_TYPE);
        } else send(res, 404);
      },
    );
    await this.serve('debug', this.opts.debug ?? { host: '127.0.0.1', port: 15004 }, (_req, res, path, q) => {
      void this.debug(res, path, q);
    });
  }

  /** Where a server is bound: status, readiness, prometheus or debug. */
  address(name: 'status' | 'readiness' | 'prometheus' | 'debug'): AgentBind | undefined {
    return this.servers.get(name)?.bound;
  }

  async close(): Promise<void> {
    const all = [...this.servers.values()];
    this.servers.clear();
    await Promise.all(
      all.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.server.close(() => resolve());
            s.server.closeAllConnections();
          }),
      ),
    );
  }

  private async serve(name: string, bind: AgentBind, route: Route): Promise<void> {
    const server = http.createServer((req, res) => {
      this.requests++;
      req.resume();
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q < 0 ? url : url.slice(0, q);
      try {
        route(req, res, path, new URLSearchParams(q < 0 ? '' : url.slice(q + 1)));
      } catch {
        if (name === 'status' || name === 'debug') goSend(res, 500);
        else send(res, 500);
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: bind.host, port: bind.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    this.servers.set(name, { server, bound: { host: addr.address, port: addr.port } });
  }

  private async appHealth(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const probe = this.probes.get(path);
    if (!probe) {
      goSend(res, 400, `app prober config does not exists for ${path}`);
      return;
    }
    const ua = req.headers['user-agent'];
    const status = await runAppProbe(
      probe,
      this.opts.appHost ?? '127.0.0.1',
      typeof ua === 'string' ? ua : undefined,
    );
    goSend(res, status);
  }

  /** Fetches the app's metrics; an app that cannot be scraped contributes nothing. */
  private scrapeApp(): Promise<string> {
    const m = this.opts.appMetrics;
    if (!m) return Promise.resolve('');
    return new Promise((resolve) => {
      const req = http.get(
        {
          host: this.opts.appHost ?? '127.0.0.1',
          port: m.port,
          path: m.path ?? '/metrics',
          agent: false,
          timeout: 5000,
        },
        (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve(r.statusCode === 200 ? Buffer.concat(chunks).toString() : ''));
          r.on('error', () => resolve(''));
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(''));
    });
  }

  /** The agent's own metrics, as pilot-agent exports them under `istio_agent_`. */
  private agentMetrics(): string {
    const mem = process.memoryUsage();
    let out =
      '# TYPE istio_agent_process_resident_memory_bytes gauge\n' +
      `istio_agent_process_resident_memory_bytes ${mem.rss}\n` +
      '# TYPE istio_agent_process_start_time_seconds gauge\n' +
      `istio_agent_process_start_time_seconds ${Math.floor(this.started / 1000)}\n` +
      '# TYPE istio_agent_num_outgoing_requests counter\n' +
      `istio_agent_num_outgoing_requests{request_type="stats"} ${this.requests}\n`;
    if (this.opts.agentMetrics) {
      const extra = this.opts.agentMetrics();
      out += extra.endsWith('\n') || extra === '' ? extra : `${extra}\n`;
    }
    return out;
  }

  private async mergedMetrics(res: http.ServerResponse): Promise<void> {
    this.engine.refreshServerStats();
    const proxy = this.engine.stats.renderPrometheus();
    let app = await this.scrapeApp();
    if (app !== '' && !app.endsWith('\n')) app += '\n';
    goSend(res, 200, proxy + app + this.agentMetrics(), [['Content-Type', PROM_TYPE]]);
  }

  /** pilot-agent's tap: `/debug/<type>` asks the control plane for `istio.io/debug/<type>`. */
  private async debug(res: http.ServerResponse, path: string, q: URLSearchParams): Promise<void> {
    if (path !== '/debug' && !path.startsWith('/debug/')) {
      goError(res, 404, '404 page not found');
      return;
    }
    const handler = this.opts.debugHandler;
    if (!handler) {
      goSend(res, 503, 'proxy not connected to Istiod\n');
      return;
    }
    try {
      const reply = await handler(path, q);
      goSend(res, reply.status, reply.body, reply.type ? [['Content-Type', reply.type]] : []);
    } catch (err) {
      goSend(res, 503, `${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}

export async function startAgent(engine: ProxyEngine, opts: AgentOptions = {}): Promise<Agent> {
  const agent = new Agent(engine, opts);
  await agent.start();
  return agent;
}
