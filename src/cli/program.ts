import { Command, CommanderError, Option } from 'commander';
import type { AnalyzeFlags } from './analyze.js';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';

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

type SetExit = (code: number) => void;

/**
 * The top-level commands in help order, each with the names and aliases it adds and how to register it.
 * A command's implementation module (and everything it imports) is loaded only when that command runs, or
 * for help over all commands: a CLI process loading every module costs ~1 s of CPU, which `skiff up`, the
 * lab's supervisor and every `skiff get` would otherwise pay. `registerAll` keeps the full program (help,
 * unknown commands) exactly as before; a test checks each entry's names against what its module registers.
 */
export const COMMAND_MODULES: readonly {
  names: readonly string[];
  register: (program: Command, io: CommandIO, setExit: SetExit) => Promise<void>;
}[] = [
  { names: ['analyze'], register: async (p, io, set) => registerAnalyze(p, io, set) },
  {
    names: ['proxy-config', 'pc'],
    register: async (p, io, set) => (await import('./proxy-config.js')).registerProxyConfig(p, io, set),
  },
  {
    names: ['pilot'],
    register: async (p, io, set) => (await import('./pilot.js')).registerPilot(p, io, set),
  },
  { names: ['up'], register: async (p, io, set) => (await import('./up.js')).registerUp(p, io, set) },
  { names: ['down'], register: async (p, io, set) => (await import('./up.js')).registerDown(p, io, set) },
  { names: ['status'], register: async (p, io, set) => (await import('./up.js')).registerStatus(p, io, set) },
  { names: ['apply'], register: async (p, io, set) => (await import('./up.js')).registerApply(p, io, set) },
  {
    names: ['proxy'],
    register: async (p, io, set) => (await import('./proxy-process.js')).registerProxyProcess(p, io, set),
  },
  {
    names: ['proxy-status', 'ps'],
    register: async (p, io, set) => (await import('./proxy-status.js')).registerProxyStatus(p, io, set),
  },
  {
    // Command groups other modules add subcommands to: one line per subcommand below each.
    names: ['bench'],
    register: async (p, io, set) => {
      const [xds, controlplane] = await Promise.all([
        import('./bench-xds.js'),
        import('./bench-controlplane.js'),
      ]);
      const bench = p.command('bench').description('Benchmarks of skiff components');
      xds.registerBenchXds(bench, io, set);
      controlplane.registerBenchControlplane(bench, io, set);
    },
  },
  {
    names: ['experimental', 'x', 'exp'],
    register: async (p, io, set) => {
      const [describe, authz, metrics] = await Promise.all([
        import('./describe.js'),
        import('./authz-check.js'),
        import('./metrics-controlplane.js'),
      ]);
      const experimental = describe.registerExperimental(p, io, set);
      authz.registerAuthz(experimental, io, set);
      metrics.registerMetrics(experimental, io, set);
    },
  },
  { names: ['top'], register: async (p, io, set) => (await import('./top.js')).registerTop(p, io, set) },
  {
    names: ['get'],
    register: async (p, io, set) => (await import('./kubectl-get.js')).registerGet(p, io, set),
  },
  {
    names: ['delete', 'patch', 'label'],
    register: async (p, io, set) => (await import('./kubectl-modify.js')).registerModify(p, io, set),
  },
  {
    names: ['logs'],
    register: async (p, io, set) => (await import('./kubectl-logs.js')).registerLogs(p, io, set),
  },
  {
    names: ['exec'],
    register: async (p, io, set) => (await import('./kubectl-exec.js')).registerExec(p, io, set),
  },
  {
    names: ['describe'],
    register: async (p, io, set) =>
      (await import('./kubectl-describe.js')).registerKubectlDescribe(p, io, set),
  },
  {
    names: ['edit'],
    register: async (p, io, set) => (await import('./kubectl-edit.js')).registerKubectlEdit(p, io, set),
  },
  {
    names: ['port-forward'],
    register: async (p, io, set) => (await import('./port-forward.js')).registerPortForward(p, io, set),
  },
];

function registerAnalyze(program: Command, io: CommandIO, setExit: SetExit): void {
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
      const { analyzeCommand } = await import('./analyze.js');
      setExit(await analyzeCommand(files, opts, io));
    });
}

/**
 * The command word of an argument list (after leading namespace flags, which `hoistGlobalNamespace`
 * moves), or undefined when there is none, e.g. `skiff --help`.
 */
function commandWord(argv: readonly string[]): string | undefined {
  let i = 0;
  for (let flag = namespaceFlagAt(argv, i); flag; flag = namespaceFlagAt(argv, i)) i += flag.words;
  const word = argv[i];
  return word === undefined || word.startsWith('-') ? undefined : word;
}

function newProgram(io: CommandIO): Command {
  return new Command('skiff')
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
}

async function buildProgram(argv: readonly string[], io: CommandIO, setExit: SetExit): Promise<Command> {
  // A known command registers alone; anything else (help, no command, a typo) sees every command, and so
  // does a leading `-n` the command cannot take, which commander then reports at the top level.
  const word = commandWord(argv);
  const only = COMMAND_MODULES.find((m) => word !== undefined && m.names.includes(word));
  if (only) {
    const program = newProgram(io);
    await only.register(program, io, setExit);
    if (!namespaceFlagAt(hoistGlobalNamespace(argv, program), 0)) return program;
  }
  const program = newProgram(io);
  await registerAll(program, io, setExit);
  return program;
}

/** Every command, in help order. */
async function registerAll(program: Command, io: CommandIO, setExit: SetExit): Promise<void> {
  for (const m of COMMAND_MODULES) await m.register(program, io, setExit);
}

/** Runs the skiff CLI with the given arguments (without `node` and the script). Returns the exit code. */
export async function runCli(args: readonly string[], io: CommandIO): Promise<number> {
  let exitCode: number = EXIT.ok;
  try {
    const program = await buildProgram(args, io, (code) => (exitCode = code));
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
