import { Command, CommanderError, Option } from 'commander';
import { analyzeCommand } from './analyze.js';
import type { AnalyzeFlags } from './analyze.js';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';
import { registerBenchXds } from './bench-xds.js';
import { registerBenchControlplane } from './bench-controlplane.js';
import { registerPilot } from './pilot.js';
import { registerProxyConfig } from './proxy-config.js';
import { registerProxyProcess } from './proxy-process.js';
import { registerApply, registerDown, registerStatus, registerUp } from './up.js';
import { registerProxyStatus } from './proxy-status.js';
import { registerExperimental } from './describe.js';
import { registerAuthz } from './authz-check.js';
import { registerMetrics } from './metrics-controlplane.js';
import { registerTop } from './top.js';
import { registerGet } from './kubectl-get.js';
import { registerModify } from './kubectl-modify.js';
import { registerLogs } from './kubectl-logs.js';
import { registerExec } from './kubectl-exec.js';
import { registerKubectlDescribe } from './kubectl-describe.js';
import { registerKubectlEdit } from './kubectl-edit.js';
import { registerPortForward } from './port-forward.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Boolean flags that accept Go pflag's `--flag=false` spelling. */
const BOOLEAN_FLAGS = [
  'use-kube',
  'color',
  'all-namespaces',
  'list-analyzers',
  'ignore-unknown',
  'verbose',
  'recursive',
  'fix-hints',
  'containers',
];

/** Flags whose name itself starts with `no-` (kubectl's `--no-headers`): `=false` means leave it off. */
const NEGATIVE_NAMED_FLAGS = ['no-headers'];

/** Rewrites pflag-style `--flag=true|false` into the forms commander understands. */
export function normalizeBooleanFlags(argv: readonly string[]): string[] {
  return argv.flatMap((arg) => {
    const m = /^--([a-z-]+)=(true|false)$/i.exec(arg);
    if (!m) return [arg];
    const on = m[2]?.toLowerCase() === 'true';
    if (NEGATIVE_NAMED_FLAGS.includes(m[1] ?? '')) return on ? [`--${m[1]}`] : [];
    if (!BOOLEAN_FLAGS.includes(m[1] ?? '')) return [arg];
    return [on ? `--${m[1]}` : `--no-${m[1]}`];
  });
}

/**
 * The value of a namespace flag at `argv[i]` and how many words it takes (`-n X`, `-nX`, `-n=X`,
 * `--namespace X`, `--namespace=X`, as pflag reads them); undefined when `argv[i]` is not one.
 */
function namespaceFlagAt(argv: readonly string[], i: number): { value: string; words: number } | undefined {
  const arg = argv[i] ?? '';
  const next = argv[i + 1];
  if (arg === '-n' || arg === '--namespace')
    return next === undefined ? undefined : { value: next, words: 2 };
  if (arg.startsWith('--namespace=')) return { value: arg.slice('--namespace='.length), words: 1 };
  if (arg.startsWith('-n=')) return { value: arg.slice(3), words: 1 };
  if (/^-n[^-]/.test(arg)) return { value: arg.slice(2), words: 1 };
  return undefined;
}

function takesNamespace(cmd: Command): boolean {
  return cmd.options.some((o) => o.short === '-n' || o.long === '--namespace');
}

/**
 * kubectl and istioctl take `-n/--namespace` before the subcommand (`skiff -n istio-system port-forward
 * deploy/istiod 8080`); commander only knows it as an option of each subcommand. Leading namespace
 * flags move to just after the subcommand path when that command has `-n`, so a `-n` the user also
 * wrote later still wins, as pflag's last-one-wins. Anything else is left as it was (commander then
 * reports the flag it does not know).
 */
export function hoistGlobalNamespace(argv: readonly string[], program: Command): string[] {
  const flags: string[] = [];
  let i = 0;
  for (let flag = namespaceFlagAt(argv, i); flag; flag = namespaceFlagAt(argv, i)) {
    flags.push(flag.value);
    i += flag.words;
  }
  if (flags.length === 0) return [...argv];
  let cmd = program;
  let end = i;
  for (; end < argv.length; end++) {
    const word = argv[end];
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word ?? ''));
    if (!sub) break;
    cmd = sub;
  }
  if (cmd === program || !takesNamespace(cmd)) return [...argv];
  return [...argv.slice(i, end), ...flags.flatMap((ns) => ['-n', ns]), ...argv.slice(end)];
}

function buildProgram(io: CommandIO, setExit: (code: number) => void): Command {
  const program = new Command('skiff')
    .description('skiff: an Istio-compatible service mesh and its troubleshooting tools')
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      // cobra's spelling, so scripts matching istioctl's errors keep working.
      outputError: (text, write) =>
        write(
          text
            .replace(/^error: unknown option '([^']*)'/, 'Error: unknown flag: $1')
            .replace(/^error:/, 'Error:'),
        ),
    })
    .exitOverride()
    .showSuggestionAfterError(false);

  program
    .command('analyze')
    .description('Analyze Istio configuration and print validation messages')
    .argument('[files...]', 'files, directories (recursive) or - for stdin')
    .option(
      '-n, --namespace <namespace>',
      'namespace for resources that have none, and the namespace analyzed',
    )
    .option('-i, --istioNamespace <namespace>', 'Istio system namespace', 'istio-system')
    .option('-A, --all-namespaces', 'analyze all namespaces')
    .option('-k, --use-kube', 'use the live mesh as well as files (default true)')
    .option('--no-use-kube', 'analyze files only')
    .option('--server <url>', "the live mesh's REST API (default: the lab running from this directory)")
    .option('-o, --output <format>', 'output format: log, json or yaml', 'log')
    .option('--failure-threshold <level>', 'lowest level that fails the run: Info, Warning, Error', 'Error')
    .option('--output-threshold <level>', 'lowest level printed: Info, Warning, Error', 'Info')
    .option(
      '-S, --suppress <code=resource>',
      'suppress a message code for resources matching a glob',
      collect,
    )
    .option('--meshConfigFile <file>', 'mesh config to use instead of the defaults')
    .option('-L, --list-analyzers', 'list the analyzers and exit')
    .option('--analyzer <name>', 'run only this analyzer (repeatable)', collect)
    .option('--ignore-unknown', 'do not fail on documents that cannot be parsed')
    .option('--color', 'colour the level of each message')
    .option('--no-color', 'do not colour output')
    .option('-v, --verbose', 'list the analyzers that ran')
    .option('-R, --recursive', 'accepted for compatibility: directories are always walked recursively')
    .option('--fix-hints', 'add a line to each message saying what to change')
    .addOption(
      new Option('--max-file-size <bytes>', 'refuse manifest files larger than this').argParser((v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n <= 0) throw new CliError(`invalid --max-file-size "${v}"`, EXIT.usage);
        return n;
      }),
    )
    .action(async (files: string[], opts: AnalyzeFlags) => {
      setExit(await analyzeCommand(files, opts, io));
    });

  registerProxyConfig(program, io, setExit);
  registerPilot(program, io, setExit);
  registerUp(program, io, setExit);
  registerDown(program, io, setExit);
  registerStatus(program, io, setExit);
  registerApply(program, io, setExit);
  registerProxyProcess(program, io, setExit);
  registerProxyStatus(program, io, setExit);
  // Command groups other modules add subcommands to: one line per subcommand below each.
  const bench = program.command('bench').description('Benchmarks of skiff components');
  registerBenchXds(bench, io, setExit);
  registerBenchControlplane(bench, io, setExit);
  const experimental = registerExperimental(program, io, setExit);
  registerAuthz(experimental, io, setExit);
  registerMetrics(experimental, io, setExit);
  registerTop(program, io, setExit);
  registerGet(program, io, setExit);
  registerModify(program, io, setExit);
  registerLogs(program, io, setExit);
  registerExec(program, io, setExit);
  registerKubectlDescribe(program, io, setExit);
  registerKubectlEdit(program, io, setExit);
  registerPortForward(program, io, setExit);

  return program;
}

/** Runs the skiff CLI with the given arguments (without `node` and the script). Returns the exit code. */
export async function runCli(args: readonly string[], io: CommandIO): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(io, (code) => (exitCode = code));
  try {
    await program.parseAsync(normalizeBooleanFlags(hoistGlobalNamespace(args, program)), { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      if (err.code === 'commander.help') return EXIT.ok;
      // Commander has already printed its message; istioctl exits 64 on any usage problem.
      return EXIT.usage;
    }
    if (err instanceof CliError) {
      io.stderr(`Error: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr(`Error: ${(err as Error).message ?? String(err)}\n`);
    return EXIT.unknown;
  }
}
