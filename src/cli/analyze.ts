import { stringify } from 'yaml';
import { formatLoadError, goMultiErrorText, loadPaths } from '../api/index.js';
import type { LoadError, Resource } from '../api/index.js';
import {
  ALL_ANALYZERS,
  MESSAGE_TYPES_BY_CODE,
  fixHint,
  levelRank,
  messageOrigin,
  messageReference,
  messageString,
  messageText,
  parseLevel,
  offlineDefaultResources,
  parseSuppression,
  runAnalysis,
} from '../analyze/index.js';
import type { Level, Message, Suppression } from '../analyze/index.js';
import { ConfigSnapshot } from '../model/index.js';
import type { MeshConfig } from '../model/index.js';
import { CliError, EXIT, usageError } from './errors.js';
import type { CommandIO } from './io.js';
import { loadMeshConfigFile } from './mesh-config-file.js';

export const ISTIO_MINOR = '1.17';
export const ANALYSIS_DOCS_URL = `https://istio.io/v${ISTIO_MINOR}/docs/reference/config/analysis`;

export interface AnalyzeFlags {
  namespace?: string;
  istioNamespace?: string;
  allNamespaces?: boolean;
  useKube?: boolean;
  /** The live mesh's REST API (skiff addition); else `$SKIFF_SERVER`, else the lab running here. */
  server?: string;
  output?: string;
  failureThreshold?: string;
  outputThreshold?: string;
  suppress?: string[];
  meshConfigFile?: string;
  listAnalyzers?: boolean;
  analyzer?: string[];
  ignoreUnknown?: boolean;
  color?: boolean;
  verbose?: boolean;
  recursive?: boolean;
  fixHints?: boolean;
  maxFileSize?: number;
}

const OUTPUT_FORMATS = ['log', 'json', 'yaml'] as const;
type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `skiff analyze`: the same inputs, output, messages and exit codes as `istioctl analyze` 1.17. Returns the exit code. */
export async function analyzeCommand(paths: string[], flags: AnalyzeFlags, io: CommandIO): Promise<number> {
  const format = (flags.output ?? 'log').toLowerCase();
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw usageError(`${format} not a valid option for format. See istioctl analyze --help`);
  }
  const failureThreshold = thresholdFlag(flags.failureThreshold, 'Error');
  const outputThreshold = thresholdFlag(flags.outputThreshold, 'Info');
  if (flags.listAnalyzers) {
    io.stdout(listAnalyzers());
    return EXIT.ok;
  }
  // As istioctl analyzes the cluster with files overlaid, skiff analyzes the running lab (or --server).
  const live = flags.useKube === false ? undefined : await liveMesh(flags, io);
  if (paths.length === 0 && live === undefined) {
    throw new CliError(
      'nothing to analyze: give files, directories or -, or start the mesh with `skiff up` to analyze it',
      EXIT.unknown,
    );
  }

  const selectedNamespace = flags.allNamespaces ? '' : (flags.namespace ?? 'default');
  const target = flags.allNamespaces ? 'all namespaces' : `namespace: ${selectedNamespace}`;
  const suppressions = parseSuppressions(flags.suppress ?? [], io);
  const mesh = flags.meshConfigFile || !live ? await loadMeshConfigFile(flags.meshConfigFile) : live.mesh;

  if (paths.includes('-') && io.stdinIsTTY && format === 'log') io.stdout('Reading from stdin:\n');
  const loaded = await loadPaths(paths, {
    defaultNamespace: flags.namespace ?? 'default',
    readStdin: io.readStdin,
    maxFileBytes: flags.maxFileSize,
  });
  for (const skipped of loaded.skippedFiles) {
    io.stderr(`Skipping file ${skipped}, recognized file extensions are: [.json .yaml .yml]\n`);
  }
  const parseErrors = loaded.errors.filter((e) => e.kind !== 'unknown-kind');
  reportParseErrors(parseErrors, io);
  const failedFiles = new Set(parseErrors.map((e) => e.file)).size;

  // The defaults come first so that the user's own objects of the same name replace them.
  // Offline, istioctl stands in an ingress gateway; a live mesh has its own. Files overlay live objects.
  const base = live ? live.resources : offlineDefaultResources(mesh, flags.istioNamespace ?? 'istio-system');
  const snapshot = new ConfigSnapshot([...base, ...loaded.resources], mesh);
  const result = runAnalysis(snapshot, {
    analyzers: flags.analyzer,
    suppressions,
    namespace: selectedNamespace === '' ? undefined : selectedNamespace,
  });

  if (flags.verbose) {
    io.stderr(`Analyzed resources in ${target}\n`);
    if (result.skipped.length > 0)
      io.stderr(`Skipped analyzers:\n${result.skipped.map((a) => `\t ${a}\n`).join('')}`);
    if (result.executed.length > 0)
      io.stderr(`Executed analyzers:\n${result.executed.map((a) => `\t ${a}\n`).join('')}`);
    const ignored = loaded.errors.filter((e) => e.kind === 'unknown-kind');
    for (const e of ignored) io.stderr(`Ignored ${formatLoadError(e)}\n`);
    io.stderr('\n');
  }

  const shown = result.messages.filter((m) => levelRank(m.type.level) >= levelRank(outputThreshold));
  const colorize = flags.color ?? (io.stdoutIsTTY && io.env['TERM'] !== 'dumb');
  io.stdout(`${renderMessages(shown, format as OutputFormat, { colorize, fixHints: !!flags.fixHints })}\n`);

  if (shown.length === 0) {
    if (failedFiles === 0) {
      const what = loaded.files.length > 0 ? loaded.files.join('\n') : target;
      io.stderr(`\u2714 No validation issues found when analyzing ${what}.\n`);
    } else {
      io.stderr(
        `No validation issues found when analyzing ${target} (but ${failedFiles} ${failedFiles === 1 ? 'file' : 'files'} could not be parsed).\n`,
      );
    }
  }

  // As in istioctl, only the log format turns findings into an exit code (istio/istio#35054).
  if (format !== 'log') return EXIT.ok;
  if (result.messages.some((m) => levelRank(m.type.level) >= levelRank(failureThreshold))) {
    throw new CliError(
      `Analyzers found issues when analyzing ${target}.\nSee ${ANALYSIS_DOCS_URL} for more information about causes and resolutions.`,
      EXIT.analyzerFoundIssues,
    );
  }
  if (failedFiles > 0 && !flags.ignoreUnknown)
    throw new CliError("Some files couldn't be parsed.", EXIT.dataError);
  return EXIT.ok;
}

function thresholdFlag(value: string | undefined, fallback: Level): Level {
  if (value === undefined) return fallback;
  const level = parseLevel(value);
  if (!level) throw usageError(`invalid level option "${value}" (choose from Info, Warning, Error)`);
  return level;
}

function parseSuppressions(values: string[], io: CommandIO): Suppression[] {
  return values.map((value) => {
    const s = parseSuppression(value);
    if (!s)
      throw new CliError(
        `${value} is not a valid suppression value. See istioctl analyze --help`,
        EXIT.unknown,
      );
    if (!MESSAGE_TYPES_BY_CODE.has(s.code)) {
      io.stderr(
        `Warning: Supplied message code '${s.code}' is an unknown message code and will not have any effect.\n`,
      );
    }
    return s;
  });
}

/** istioctl's `Error(s) adding files: ` lead and multierror layout, with one `file:line: reason` per bad document. */
function reportParseErrors(errors: readonly LoadError[], io: CommandIO): void {
  if (errors.length === 0) return;
  io.stderr(`Error(s) adding files: ${goMultiErrorText(errors.map(formatLoadError))}`);
}

export function listAnalyzers(): string {
  return [...ALL_ANALYZERS]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((a) => `* ${a.name}:\n    ${a.description}\n`)
    .join('');
}

const COLORS: Record<Level, string> = { Info: '', Warning: '\u001b[33m', Error: '\u001b[1;31m' };

export function renderMessages(
  messages: readonly Message[],
  format: OutputFormat,
  opts: { colorize: boolean; fixHints: boolean },
): string {
  if (format === 'log') {
    return messages
      .map((m) => {
        let line = messageString(m);
        if (opts.colorize && COLORS[m.type.level]) {
          line = `${COLORS[m.type.level]}${m.type.level}\u001b[0m${line.slice(m.type.level.length)}`;
        }
        return opts.fixHints ? `${line}\n    Fix: ${fixHint(m)}` : line;
      })
      .join('\n');
  }
  const objects = messages.map((m) => messageObject(m, opts.fixHints));
  if (format === 'json') return goJsonIndent(objects);
  // yaml.Marshal's text ends in a newline, and istioctl prints it with Fprintln: a blank line follows.
  return objects.length === 0 ? '[]\n' : stringify(objects, { indentSeq: false, lineWidth: 0 });
}

function messageObject(m: Message, withHint: boolean): Record<string, string> {
  // Keys in alphabetical order, as Go marshals a map.
  const o: Record<string, string> = {
    code: m.type.code,
    documentationUrl: `${ANALYSIS_DOCS_URL}/${m.type.code.toLowerCase()}/?ref=istioctl-analyze`,
  };
  if (withHint) o['fixHint'] = fixHint(m);
  o['level'] = m.type.level;
  o['message'] = messageText(m);
  const origin = messageOrigin(m);
  if (origin) o['origin'] = origin;
  const reference = messageReference(m);
  if (reference) o['reference'] = reference;
  return o;
}

/** Go's json.MarshalIndent(v, "", "\t"), including its HTML-safe escaping of <, > and &. */
function goJsonIndent(value: unknown): string {
  return JSON.stringify(value, null, '\t').replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The running mesh's objects and mesh config, or undefined when none is reachable. */
async function liveMesh(
  flags: AnalyzeFlags,
  io: CommandIO,
): Promise<{ resources: readonly Resource[]; mesh: MeshConfig } | undefined> {
  const { fetchSnapshot, resolveServer } = await import('./kubectl-client.js');
  let server: string;
  try {
    server = await resolveServer({ server: flags.server }, io);
  } catch {
    return undefined;
  }
  const snapshot = await fetchSnapshot(server, flags.istioNamespace ?? 'istio-system');
  return { resources: snapshot.resources, mesh: snapshot.mesh };
}
