import assert from 'node:assert/strict';
import { parseManifests } from '../src/api/index.js';
import { messageString, runAnalysis } from '../src/analyze/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import type { MeshConfig } from '../src/model/index.js';

/** The documents as one multi-document YAML file. */
export function yamlOf(docs: readonly string[]): string {
  return docs.join('---\n');
}

/**
 * Runs one analyzer over the documents (loaded as `file`) and returns the messages as istioctl prints them.
 * Fails the test if the documents do not load or the analyzer name is unknown.
 */
export function analyzeDocs(
  analyzer: string,
  docs: readonly string[],
  file: string,
  mesh?: MeshConfig,
): string[] {
  const { resources, errors } = parseManifests(yamlOf(docs), file);
  assert.deepEqual(errors, []);
  const result = runAnalysis(new ConfigSnapshot(resources, mesh), { analyzers: [analyzer] });
  assert.deepEqual(result.executed, [analyzer]);
  return result.messages.map(messageString);
}

/** 1-based line of the nth line of the documents containing `needle`. */
export function lineOfNeedle(docs: readonly string[], needle: string, nth = 1): number {
  const lines = yamlOf(docs).split('\n');
  let seen = 0;
  for (const [i, line] of lines.entries()) {
    if (line.includes(needle) && ++seen === nth) return i + 1;
  }
  throw new Error(`"${needle}" #${nth} not in the test YAML`);
}
