/**
 * The control plane of `skiff bench xds`, in its own process so that its CPU time and peak RSS are its own.
 * Started with the options as JSON in argv[2]; reports `{op: 'ready', grpcAddress, httpPort,
 * monitoringPort}` over IPC, answers `{op: 'usage'}` with `{op: 'usage', cpuSeconds, maxRssBytes, rssBytes}`
 * and stops on `{op: 'exit'}`.
 *
 * Sidecars are served by `generateProxyResources`; while it yields no sidecar listeners and routes yet, the
 * sidecar LDS/RDS builders are added here, so that a VirtualService change reaches sidecars as in Istio.
 */
import { buildSidecarListeners, buildSidecarRouteConfigs, generateProxyResources } from '../xds/index.js';
import type { Proxy, ProxyResources, PushContext } from '../xds/index.js';
import { startPilot } from './pilot.js';

interface ChildOptions {
  configDir: string;
  debounceAfterMs?: number;
  pushThrottle?: number;
}

export function benchGenerator(push: PushContext, proxy: Proxy): ProxyResources {
  const resources = generateProxyResources(push, proxy);
  if (proxy.type !== 'sidecar' || resources.listeners.length > 0 || resources.routes.length > 0)
    return resources;
  return {
    ...resources,
    listeners: buildSidecarListeners(push, proxy),
    routes: buildSidecarRouteConfigs(push, proxy),
  };
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
  const pilot = await startPilot({
    configDir: options.configDir,
    grpcPort: 0,
    httpPort: 0,
    monitoringPort: 0,
    debounceAfterMs: options.debounceAfterMs,
    pushThrottle: options.pushThrottle,
    generator: benchGenerator,
  });
  process.on('message', (msg: { op: string }) => {
    if (msg.op === 'usage') {
      const cpu = process.cpuUsage();
      process.send?.({
        op: 'usage',
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
        rssBytes: process.memoryUsage().rss,
      });
    } else if (msg.op === 'exit') {
      void pilot.close().finally(() => process.exit(0));
    }
  });
  process.send?.({
    op: 'ready',
    grpcAddress: pilot.grpcAddress,
    httpPort: pilot.httpPort,
    monitoringPort: pilot.monitoringPort,
  });
}

await main();
