export * from './mesh.js';
export * from './snapshot.js';
