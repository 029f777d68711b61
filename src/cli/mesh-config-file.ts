/** `--meshConfigFile`: a bare MeshConfig or the `istio` ConfigMap, overlaid on Istio's defaults. */
import { readFile } from 'node:fs/promises';
import { defaultMeshConfig, parseMeshConfig } from '../model/index.js';
import type { MeshConfig } from '../model/index.js';
import { CliError, EXIT } from './errors.js';

export async function loadMeshConfigFile(file: string | undefined): Promise<MeshConfig> {
  if (!file) return defaultMeshConfig();
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`failed to read mesh config file ${file}: ${(err as Error).message}`, EXIT.unknown);
  }
  try {
    return parseMeshConfig(text);
  } catch (err) {
    throw new CliError(`invalid mesh config file ${file}: ${(err as Error).message}`, EXIT.unknown);
  }
}
