export { runCli, normalizeBooleanFlags } from './program.js';
export type { CommandIO } from './io.js';
export { EXIT } from './errors.js';
export { TabWriter, tabulate, TABWRITER_FLAGS } from './tabwriter.js';
export type { TabWriterOptions } from './tabwriter.js';
export { goSortSlice } from './configdump-gosort.js';
export * from './bench-xds.js';
export { authzCheckTable, registerAuthz } from './authz-check.js';
