/**
 * `npm run bench`: how long `skiff analyze` takes on lab-shaped meshes of 1,000 and 10,000 objects,
 * end to end and phase by phase, next to the floor set by parsing the same files with `yaml` alone;
 * then how long generating one proxy's config takes and how big it is (bench/generate.ts).
 * Results and their reading are in docs/benchmarks.md.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateMesh, timeAnalyzers, timeBaselines, timeCli, timePhases, timeStartup } from './analyze.js';
import { runGenerationBench } from './generate.js';
import { runDataplaneBench } from './dataplane.js';
import { runLabBench } from './lab.js';
import { runXdsBench } from './xds.js';
import { runScaleBench } from './scale.js';

/** The goal: 10,000 objects analyzed end to end in under this many milliseconds. */
const GOAL_MS = 3000;
const GOAL_RESOURCES = 10_000;

const SIZES = [
  { resources: 1_000, files: 2, cliReps: 5, phaseReps: 5 },
  { resources: 10_000, files: 4, cliReps: 5, phaseReps: 3 },
];

const fmtMs = (ms: number) => `${ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)} ms`;
const fmtRate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString('en-US')}/s`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

async function main(): Promise<void> {
  const started = performance.now();
  const root = mkdtempSync(join(tmpdir(), 'skiff-bench-'));
  try {
    console.log(`# skiff analyze benchmark`);
    console.log(
      `node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${new Date().toISOString()}\n`,
    );
    const startup = timeStartup(5);
    console.log(`node start + CLI modules (\`skiff analyze -L\`): ${fmtMs(startup)}\n`);

    const rows: string[] = [];
    const phaseRows: string[] = [];
    let goalMs: number | undefined;
    let largest: string | undefined;
    for (const size of SIZES) {
      const dir = join(root, `mesh-${size.resources}`);
      mkdirSync(dir);
      const mesh = generateMesh(dir, size.resources, size.files);
      largest = dir;
      const cli = timeCli(['analyze', '--use-kube=false', '-A', dir], size.cliReps);
      const phases = await timePhases(dir, size.phaseReps);
      const base = await timeBaselines(dir, size.phaseReps);
      if (mesh.resources === GOAL_RESOURCES) goalMs = cli.medianMs;
      rows.push(
        `| ${mesh.resources.toLocaleString('en-US')} | ${size.files} | ${fmtMs(cli.medianMs)} | ${cli.medianCpuMs === undefined ? '—' : fmtMs(cli.medianCpuMs)} | ${fmtRate(mesh.resources, cli.medianMs)} | ${cli.exitCode} | ${cli.messageLines} | ${fmtMs(base.yamlParseMs)} | ${ratio(cli.medianMs, base.yamlParseMs)} | ${fmtMs(base.yamlCstMs)} |`,
      );
      phaseRows.push(
        `| ${mesh.resources.toLocaleString('en-US')} | ${fmtMs(phases.loadMs)} | ${ratio(phases.loadMs, base.yamlParseMs)} | ${fmtMs(phases.snapshotMs)} | ${fmtMs(phases.analysisMs)} | ${phases.messages} |`,
      );
    }

    console.log(`## End to end (median of the CLI as a child process) vs parsing alone\n`);
    console.log(
      `| objects | files | skiff analyze (wall) | CPU | objects/s | exit | messages | yaml parse (baseline) | skiff / baseline | yaml CST only |`,
    );
    console.log(`|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
    for (const r of rows) console.log(r);

    console.log(`\n## In process, by phase (medians)\n`);
    console.log(`| objects | load (read + parse) | load / baseline | snapshot | analysis | messages |`);
    console.log(`|---:|---:|---:|---:|---:|---:|`);
    for (const r of phaseRows) console.log(r);

    if (largest) {
      console.log(`\n## Slowest analyzers on the largest mesh (one run each)\n`);
      console.log(`| analyzer | time |`);
      console.log(`|---|---:|`);
      for (const a of await timeAnalyzers(largest, 8)) console.log(`| ${a.name} | ${fmtMs(a.ms)} |`);
    }

    if (goalMs !== undefined) {
      const verdict = goalMs < GOAL_MS ? 'met' : 'NOT met';
      console.log(
        `\nGoal (${GOAL_RESOURCES.toLocaleString('en-US')} objects end to end in < ${GOAL_MS / 1000} s): ${verdict} — ${fmtMs(goalMs)}`,
      );
    }
    console.log(`\nBench took ${((performance.now() - started) / 1000).toFixed(1)} s.`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * `node dist/bench/run.js [analyze|generate|xds|dataplane|lab|scale]`: one part; every part, one after the
 * other, without an argument (`npm run bench`).
 */
const only = process.argv[2];
const all = only === undefined;
if (all || only === 'analyze') await main();
if (all || only === 'generate') {
  const started = performance.now();
  console.log(`\n# skiff generation benchmark\n`);
  for (const line of runGenerationBench()) console.log(line);
  console.log(`\nGeneration bench took ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}
if (all || only === 'xds') for (const line of await runXdsBench()) console.log(line);
if (all || only === 'dataplane')
  for (const line of await runDataplaneBench(all ? [] : process.argv.slice(3))) console.log(line);
if (all || only === 'lab') {
  console.log(`# skiff up benchmark\n`);
  for (const line of runLabBench()) console.log(line);
}
if (all || only === 'scale')
  for (const line of runScaleBench('docs', (l) => console.error(l))) console.log(line);
