// The typed views of specs and objects, re-exported together so index.ts needs one line for them.
export * from './types-networking.js';
export * from './types-security.js';
export * from './types-kube.js';
export * from './typed.js';
