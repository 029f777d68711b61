export { runCli, normalizeBooleanFlags } from './program.js';
export type { CommandIO } from './io.js';
export { EXIT } from './errors.js';
