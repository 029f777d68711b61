/**
 * The control plane of `skiff bench xds`, in its own process so that its CPU time and peak RSS are its own.
 * Started with the options as JSON in argv[2]; reports `{op: 'ready', grpcAddress, httpPort,
 * monitoringPort}` over IPC, answers `{op: 'usage'}` with `{op: 'usage', cpuSeconds, maxRssBytes, rssBytes}`
 * and stops on `{op: 'exit'}`.
 *
 * Proxies are served by `generateProxyResources`, the control plane's own generator, so the benchmark
 * measures exactly what `skiff pilot` does.
 */
import { startPilot } from './pilot.js';

interface ChildOptions {
  configDir: string;
  debounceAfterMs?: number;
  pushThrottle?: number;
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
