/**
 * The Envoy-compatible admin server (Istio's port 15000, localhost only by default) over a ProxyEngine:
 * the endpoints istioctl, pilot-agent and people use — /config_dump, /clusters, /listeners, /logging,
 * /stats, /stats/prometheus, /ready, /server_info, /reset_counters, /healthcheck/fail|ok,
 * /quitquitquit, /help — with Envoy 1.25's status codes and texts: exact path match; handlers that
 * change state answer GET with `405 Method GET not allowed, POST required.`; anything else is a 404 with
 * `invalid path. admin commands are:` and the command list.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  clustersJson,
  clusterViews,
  listenersJson,
  renderClustersText,
  renderListenersText,
} from './admin-clusters.js';
// The config-dump layout alone, not the xds index (which would load the generators and the ADS server
// into every proxy process; see the exception in eslint.config.js).
import { toEnvoyAdminJson } from '../xds/generate/config-dump.js';
import { adminConfigDump } from './admin-config-dump.js';
import type { ProxyEngine } from './engine.js';

/** The Envoy version skiff reports (Istio 1.17's proxy is Envoy 1.25). */
export const ENVOY_VERSION = 'skiff/1.25.9/Clean/RELEASE/BoringSSL';

export interface AdminOptions {
  /** Bind address; Istio binds the admin port to localhost only. Default 127.0.0.1:15000. */
  host?: string;
  port?: number;
  /** The bootstrap (proto3 JSON) shown as BootstrapConfigDump and used for static clusters. */
  bootstrap?: Record<string, unknown>;
  /** Called by POST /quitquitquit after the reply is sent. */
  onShutdown?: () => void;
  /** Envoy command-line options reported by /server_info (merged over Istio's defaults). */
  commandLineOptions?: Record<string, unknown>;
}

interface Reply {
  status: number;
  body: string;
  type?: string;
}

type Handler = (query: URLSearchParams) => Reply;

interface AdminHandler {
  prefix: string;
  help: string;
  mutates: boolean;
  params?: [string, string][];
  handle: Handler;
}

const TEXT = 'text/plain; charset=UTF-8';
const JSON_TYPE = 'application/json';

const text = (body: string, status = 200): Reply => ({ status, body, type: TEXT });
const json = (value: unknown, status = 200): Reply => ({
  status,
  body: `${JSON.stringify(value, null, 1)}\n`,
  type: JSON_TYPE,
});

/** Istio's Envoy command line as /server_info prints it (pkg/envoy/proxy.go defaults). */
function defaultCommandLine(): Record<string, unknown> {
  return {
    base_id: '0',
    use_dynamic_base_id: false,
    base_id_path: '',
    concurrency: 2,
    config_path: 'etc/istio/proxy/envoy-rev.json',
    config_yaml: '',
    allow_unknown_static_fields: false,
    reject_unknown_dynamic_fields: false,
    ignore_unknown_dynamic_fields: false,
    admin_address_path: '',
    local_address_ip_version: 'v4',
    log_level: 'warning',
    component_log_level: 'misc:error',
    log_format: '%Y-%m-%dT%T.%fZ\t%l\tenvoy %n %g:%#\t%v\tthread=%t',
    log_format_escaped: false,
    log_path: '',
    service_cluster: 'istio-proxy',
    service_node: '',
    service_zone: '',
    drain_strategy: 'Immediate',
    mode: 'Serve',
    disable_hot_restart: true,
    enable_mutex_tracing: false,
    restart_epoch: 0,
    cpuset_threads: false,
    disabled_extensions: [],
    enable_fine_grain_logging: false,
    socket_path: '@envoy_domain_socket',
    socket_mode: 0,
    enable_core_dump: false,
    stats_tag: [],
    file_flush_interval: '10s',
    drain_time: '45s',
    parent_shutdown_time: '60s',
  };
}

function seconds(ms: number): string {
  return `${Math.floor(ms / 1000)}s`;
}

/** A RE2-ish `?filter=` for /stats; an invalid pattern is reported as Envoy does. */
function statsFilter(q: URLSearchParams): ((name: string) => boolean) | string {
  const filter = q.get('filter');
  let re: RegExp | undefined;
  if (filter !== null && filter !== '') {
    try {
      re = new RegExp(filter);
    } catch {
      return `Invalid re2 regex`;
    }
  }
  return (name) => (re ? re.test(name) : true);
}

export class AdminServer {
  private server: http.Server | undefined;
  private readonly handlers: AdminHandler[];

  constructor(
    private readonly engine: ProxyEngine,
    private readonly opts: AdminOptions = {},
  ) {
    this.handlers = this.buildHandlers();
  }

  async listen(): Promise<{ address: string; port: number }> {
    const server = http.createServer((req, res) => this.onRequest(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.opts.host ?? '127.0.0.1', port: this.opts.port ?? 15000 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    return { address: addr.address, port: addr.port };
  }

  address(): { address: string; port: number } | undefined {
    const addr = this.server?.address();
    return addr && typeof addr === 'object' ? { address: addr.address, port: addr.port } : undefined;
  }

  close(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    this.server = undefined;
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Answers one admin request (exposed for in-process callers such as the agent). */
  handle(method: string, pathAndQuery: string): Reply {
    const q = pathAndQuery.indexOf('?');
    const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : pathAndQuery.slice(q + 1));
    for (const h of this.handlers) {
      if (h.prefix !== path) continue;
      if (h.mutates && method !== 'POST') return text(`Method ${method} not allowed, POST required.`, 405);
      try {
        return h.handle(query);
      } catch (err) {
        return text(`${(err as Error).message}\n`, 500);
      }
    }
    return text(`invalid path. ${this.helpText()}`, 404);
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    req.on('end', () => {
      const reply = this.handle(req.method ?? 'GET', req.url ?? '/');
      res.writeHead(reply.status, {
        'content-type': reply.type ?? TEXT,
        'cache-control': 'no-cache, max-age=0',
        'x-content-type-options': 'nosniff',
        'content-length': Buffer.byteLength(reply.body),
      });
      res.end(reply.body);
      if (reply.status === 200 && req.url?.startsWith('/quitquitquit')) this.opts.onShutdown?.();
    });
  }

  /** `admin commands are:` and every handler in name order, `(POST)` on the mutating ones. */
  helpText(): string {
    let out = 'admin commands are:\n';
    for (const h of [...this.handlers].sort((a, b) => (a.prefix < b.prefix ? -1 : 1))) {
      out += `  ${h.prefix}${h.mutates ? ' (POST)' : ''}: ${h.help}\n`;
      for (const [id, help] of h.params ?? []) out += `      ${id}: ${help}\n`;
    }
    return out;
  }

  private buildHandlers(): AdminHandler[] {
    const e = this.engine;
    const ok: Handler = () => text('OK\n');
    const h = (
      prefix: string,
      help: string,
      mutates: boolean,
      handle: Handler,
      params?: [string, string][],
    ): AdminHandler =>
      params ? { prefix, help, mutates, handle, params } : { prefix, help, mutates, handle };
    return [
      h('/', 'Admin home page', false, () => ({
        status: 200,
        type: 'text/html; charset=UTF-8',
        body: `<html><body><pre>${this.helpText()}</pre></body></html>\n`,
      })),
      h('/certs', 'print certs on machine', false, () => json({ certificates: [] })),
      h('/clusters', 'upstream cluster status', false, (q) => this.clusters(q), [
        ['format', 'File format to use; One of (text, json)'],
      ]),
      h('/config_dump', 'dump current Envoy configs (experimental)', false, (q) => this.configDump(q), [
        ['resource', 'The resource to dump'],
        [
          'mask',
          'The mask to apply. When both resource and mask are specified, the mask is applied to every element in the desired repeated field so that only a subset of fields are returned. The mask is parsed as a ProtobufWkt::FieldMask',
        ],
        [
          'name_regex',
          'Dump only the currently loaded configurations whose names match the specified regex. Can be used with both resource and mask query parameters.',
        ],
        [
          'include_eds',
          'Dump currently loaded configuration including EDS. See the response definition for more information',
        ],
      ]),
      h('/drain_listeners', 'drain listeners', true, ok, [
        [
          'graceful',
          'When draining listeners, enter a graceful drain period prior to closing listeners. This behaviour and duration is configurable via server options or CLI',
        ],
        [
          'inboundonly',
          'Drains all inbound listeners. traffic_direction field in envoy_v3_api_msg_config.listener.v3.Listener is used to determine whether a listener is inbound or outbound.',
        ],
      ]),
      h('/healthcheck/fail', 'cause the server to fail health checks', true, () => {
        e.healthCheckFailed = true;
        return text('OK\n');
      }),
      h('/healthcheck/ok', 'cause the server to pass health checks', true, () => {
        e.healthCheckFailed = false;
        return text('OK\n');
      }),
      h('/help', 'print out list of admin commands', false, () => text(this.helpText())),
      h('/hot_restart_version', 'print the hot restart compatibility version', false, () =>
        text('disabled\n'),
      ),
      h(
        '/listeners',
        'print listener info',
        false,
        (q) =>
          q.get('format') === 'json' ? json(listenersJson(e.config)) : text(renderListenersText(e.config)),
        [['format', 'File format to use; One of (text, json)']],
      ),
      h('/logging', 'query/change logging levels', true, (q) => this.logging(q), [
        [
          'paths',
          'Change multiple logging levels by setting to <logger_name1>:<desired_level1>,<logger_name2>:<desired_level2>.',
        ],
        ['level', 'desired logging level'],
      ]),
      h('/memory', 'print current allocation/heap usage', false, () => {
        const m = process.memoryUsage();
        return json({
          allocated: String(m.heapUsed),
          heap_size: String(m.heapTotal),
          pageheap_unmapped: '0',
          pageheap_free: '0',
          total_thread_cache: '0',
          total_physical_bytes: String(m.rss),
        });
      }),
      h('/quitquitquit', 'exit the server', true, () => text('OK\n')),
      h('/ready', 'print server state, return 200 if LIVE, otherwise return 503', false, () => {
        const state = e.serverState;
        return text(`${state}\n`, state === 'LIVE' ? 200 : 503);
      }),
      h('/reopen_logs', 'reopen access logs', true, ok),
      h('/reset_counters', 'reset all counters to zero', true, () => {
        e.stats.resetCounters();
        return text('OK\n');
      }),
      h('/runtime', 'print runtime values', false, () =>
        json({
          layers: ['global config', 'admin'],
          entries: {
            're2.max_program_size.error_level': { final_value: '32768', layer_values: ['32768', ''] },
            'envoy.reloadable_features.http_reject_path_with_fragment': {
              final_value: 'false',
              layer_values: ['false', ''],
            },
          },
        }),
      ),
      h('/server_info', 'print server version/status information', false, () => this.serverInfo()),
      h('/stats', 'print server stats', false, (q) => this.statsText(q), [
        ['usedonly', 'Only include stats that have been written by system since restart'],
        ['filter', 'Regular expression (Google re2) for filtering stats'],
        ['format', 'Format to use; One of (html, text, json)'],
        ['type', 'Stat types to include.; One of (All, Counters, Histograms, Gauges, TextReadouts)'],
      ]),
      h(
        '/stats/prometheus',
        'print server stats in prometheus format',
        false,
        () => {
          e.refreshServerStats();
          return { status: 200, body: e.stats.renderPrometheus(), type: 'text/plain; version=0.0.4' };
        },
        [
          ['usedonly', 'Only include stats that have been written by system since restart'],
          [
            'text_readouts',
            'Render text_readouts as new gaugues with value 0 (increases Prometheus data size)',
          ],
          ['filter', 'Regular expression (Google re2) for filtering stats'],
        ],
      ),
    ];
  }

  private clusters(q: URLSearchParams): Reply {
    const statics = new Set<string>();
    const bootstrap = this.opts.bootstrap;
    const sr = bootstrap?.['staticResources'];
    if (sr && typeof sr === 'object' && Array.isArray((sr as Record<string, unknown>)['clusters']))
      for (const c of (sr as Record<string, unknown[]>)['clusters'] ?? [])
        if (c && typeof c === 'object' && typeof (c as Record<string, unknown>)['name'] === 'string')
          statics.add((c as Record<string, string>)['name'] ?? '');
    const views = clusterViews(this.engine.config, this.engine.clusterRuntimes(), statics);
    return q.get('format') === 'json' ? json(clustersJson(views)) : text(renderClustersText(views));
  }

  private configDump(q: URLSearchParams): Reply {
    const query: Parameters<typeof adminConfigDump>[2] = { includeEds: q.has('include_eds') };
    const resource = q.get('resource');
    if (resource !== null) query.resource = resource;
    const mask = q.get('mask');
    if (mask !== null) query.mask = mask;
    const opts: Parameters<typeof adminConfigDump>[1] = {};
    if (this.opts.bootstrap) opts.bootstrap = this.opts.bootstrap;
    const peer = this.engine.peer;
    if (peer) opts.peer = peer;
    const updated = this.engine.lastUpdated;
    if (updated) opts.lastUpdated = updated;
    const snapshot = this.engine.snapshot;
    const agentSecrets = this.engine.agentSecrets();
    // SDS from the agent (default, ROOTCA) sits beside SDS over ADS (gateway credentials) in the dump.
    const dumped =
      agentSecrets.length > 0 && snapshot
        ? { ...snapshot, secrets: [...agentSecrets, ...(snapshot.secrets ?? [])] }
        : snapshot;
    const result = adminConfigDump(dumped, opts, query);
    if ('error' in result) return text(`${result.error}\n`, result.status);
    return json(result.body);
  }

  /** Envoy 1.25's /logging: no parameters lists; `level=`, `paths=` or `<logger>=` change levels. */
  private logging(q: URLSearchParams): Reply {
    const log = this.engine.log;
    const params = [...q.entries()].filter(([k, v]) => !((k === 'level' || k === 'paths') && v === ''));
    let error: string | undefined;
    if (params.length > 1) error = 'invalid number of parameters';
    else if (params.length === 1) {
      const [key, value] = params[0] ?? ['', ''];
      if (key === 'level') error = log.setAll(value) ? undefined : 'unknown logger level';
      else if (key === 'paths') error = log.setPaths(value);
      else if (!log.isLevel(value)) error = 'unknown logger level';
      else error = log.setPaths(`${key}:${value}`);
    }
    if (error === undefined) return text(log.render());
    const usage =
      `error: ${error}\n\n` +
      'usage: /logging?<name>=<level> (change single level)\n' +
      'usage: /logging?paths=name1:level1,name2:level2,... (change multiple levels)\n' +
      'usage: /logging?level=<level> (change all levels)\n' +
      'levels: trace debug info warning error critical off \n';
    return text(usage + log.render(), 404);
  }

  private statsText(q: URLSearchParams): Reply {
    const keep = statsFilter(q);
    if (typeof keep === 'string') return text(`${keep}\n`, 400);
    this.engine.refreshServerStats();
    if (q.get('format') === 'json') {
      const stats: { name: string; value: number }[] = [];
      for (const m of [...this.engine.stats.counters.values(), ...this.engine.stats.gauges.values()])
        if (keep(m.name)) stats.push({ name: m.name, value: m.value });
      stats.sort((a, b) => (a.name < b.name ? -1 : 1));
      return json({ stats });
    }
    return text(this.engine.stats.renderText(keep));
  }

  private serverInfo(): Reply {
    const e = this.engine;
    const uptime = seconds(Date.now() - e.startedAt);
    const node = toEnvoyAdminJson(this.opts.bootstrap?.['node']) ?? {
      id: e.peer?.nodeId ?? '',
      cluster: e.peer?.workloadName && e.peer.namespace ? `${e.peer.workloadName}.${e.peer.namespace}` : '',
    };
    return json({
      version: ENVOY_VERSION,
      state: e.serverState,
      hot_restart_version: 'disabled',
      command_line_options: { ...defaultCommandLine(), ...(this.opts.commandLineOptions ?? {}) },
      node,
      uptime_current_epoch: uptime,
      uptime_all_epochs: uptime,
    });
  }
}

/** Starts an admin server for an engine. */
export async function startAdmin(engine: ProxyEngine, opts: AdminOptions = {}): Promise<AdminServer> {
  const admin = new AdminServer(engine, opts);
  await admin.listen();
  return admin;
}
