// Shared by the cli-kubectl tests: run the CLI in-process, and load manifests into a store as the lab holds them.
import { parseManifests } from '../src/api/index.js';
import type { CommandIO } from '../src/cli/index.js';
import { runCli } from '../src/cli/index.js';
import type { ObjectStore } from '../src/store/index.js';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export async function skiff(args: string[], env: Record<string, string> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CommandIO = {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    stdoutIsTTY: false,
    stdinIsTTY: false,
    readStdin: () => Promise.resolve(Buffer.from('')),
    env: { ...env },
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

/** Loads manifests into a store as the lab would hold them (statuses through the status subresource). */
export function seedStore(store: ObjectStore, text: string): void {
  for (const r of parseManifests(text, 'fixture.yaml').resources) {
    const object = JSON.parse(JSON.stringify(r.object)) as Record<string, unknown>;
    const status = object['status'];
    delete object['status'];
    const created = store.create(object);
    if (status !== undefined && r.kind !== 'Namespace') store.updateStatus({ ...created, status });
  }
}
