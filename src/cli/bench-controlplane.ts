/**
 * `skiff bench controlplane`: Istio in Action's `performance-test.sh` against the running lab
 * (`--reps N --delay D [--namespace ns]`), and `--scenario ch11`, the chapter's tuning steps in one table.
 */
import type { Command } from 'commander';
import { parseDurationFlag, parseIntFlag, SettingError } from '../pilot/index.js';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';
import { bookLines, comparisonTable, extraLines } from './bench-controlplane-report.js';
import { runPerformanceTest } from './bench-controlplane-run.js';
import { CH11_STEPS, runCh11Scenario } from './bench-controlplane-scenario.js';
import type { Ch11Step } from './bench-controlplane-scenario.js';

export interface BenchControlplaneFlags {
  reps?: string;
  delay?: string;
  namespace?: string;
  gateway?: string;
  stateDir?: string;
  timeout?: string;
  settle?: string;
  keep?: boolean;
  scenario?: string;
  steps?: string;
  services?: string;
  debounceAfter?: string;
  pushThrottle?: string;
}

/** The book's `--delay` is seconds for `sleep`; a Go duration (`2.5s`, `500ms`) is accepted too. */
export function parseDelay(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text.trim())) return Number(text) * 1000;
  return parseDurationFlag('--delay', text);
}

function parsed<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SettingError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

function parseSteps(text: string | undefined): Ch11Step[] {
  if (text === undefined) return [...CH11_STEPS];
  const steps = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of steps)
    if (!(CH11_STEPS as readonly string[]).includes(s))
      throw new CliError(`unknown step "${s}": want ${CH11_STEPS.join(', ')}`, EXIT.usage);
  return steps as Ch11Step[];
}

export async function benchControlplaneCommand(
  flags: BenchControlplaneFlags,
  io: CommandIO,
): Promise<number> {
  const scenario = flags.scenario;
  if (scenario !== undefined && scenario !== 'ch11')
    throw new CliError(`unknown scenario "${scenario}": want ch11`, EXIT.usage);
  const common = parsed(() => ({
    reps: parseIntFlag('--reps', flags.reps ?? (scenario ? '10' : '20')),
    delayMs: parseDelay(flags.delay ?? (scenario ? '1' : '0')),
    namespace: flags.namespace ?? 'istioinaction',
    stateDir: flags.stateDir,
    gateway: flags.gateway,
    timeoutMs: parseDurationFlag('--timeout', flags.timeout ?? '120s'),
    settleMs: flags.settle === '0' ? 0 : parseDurationFlag('--settle', flags.settle ?? '3s'),
    keep: flags.keep === true,
  }));
  if (!scenario) {
    const result = await runPerformanceTest({ ...common, progress: io.stdout });
    io.stdout(`\n${bookLines(result)}\n${extraLines(result)}`);
    return EXIT.ok;
  }
  const started = Date.now();
  const rows = await runCh11Scenario(
    {
      ...common,
      steps: parseSteps(flags.steps),
      services: parsed(() =>
        flags.services === '0' ? 0 : parseIntFlag('--services', flags.services ?? '200'),
      ),
      debounceAfter: flags.debounceAfter ?? '2500ms',
      ...(flags.pushThrottle ? { pushThrottle: flags.pushThrottle } : {}),
      readyTimeoutMs: common.timeoutMs,
    },
    io,
  );
  io.stdout(
    `## ch11 comparison (--reps ${common.reps} --delay ${common.delayMs / 1000}s, ${((Date.now() - started) / 1000).toFixed(0)} s)\n\n${comparisonTable(rows)}`,
  );
  return EXIT.ok;
}

export function registerBenchControlplane(
  bench: Command,
  io: CommandIO,
  setExit: (code: number) => void,
): void {
  bench
    .command('controlplane')
    .description(
      "Istio in Action's control-plane performance test against the running lab: push count, convergence, CPU, RSS, bytes pushed",
    )
    .option(
      '--reps <n>',
      'Service + Gateway + VirtualService sets to create (default 20; 10 with --scenario)',
    )
    .option('--delay <seconds>', 'wait between sets, seconds or a duration (default 0; 1 with --scenario)')
    .option('--namespace <ns>', 'namespace of the created objects', 'istioinaction')
    .option('--gateway <host:port>', "the ingress gateway's HTTP address (default: the lab's port 30000)")
    .option('--state-dir <dir>', 'state directory of the running lab (default .skiff)')
    .option(
      '--timeout <duration>',
      'how long to wait for the last host to route (and for the lab between steps)',
    )
    .option('--settle <duration>', 'wait after the last host routes before reading the metrics', '3s')
    .option('--keep', 'keep the created objects (and, with --scenario, the tuning) afterwards')
    .option(
      '--scenario <name>',
      'ch11: baseline, Sidecar, discoverySelectors and debounce steps in one table',
    )
    .option('--steps <list>', `with --scenario: which steps (${CH11_STEPS.join(',')})`)
    .option(
      '--services <n>',
      'with --scenario: Service + Gateway + VirtualService sets in the workspace',
      '200',
    )
    .option(
      '--debounce-after <duration>',
      'with --scenario: PILOT_DEBOUNCE_AFTER of the debounce step',
      '2500ms',
    )
    .option('--push-throttle <n>', 'with --scenario: PILOT_PUSH_THROTTLE of the debounce step too')
    .action(async (opts: BenchControlplaneFlags) => setExit(await benchControlplaneCommand(opts, io)));
}
