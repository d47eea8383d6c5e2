export * from './connection.js';
export * from './leaderboard-store.js';
export * from './schedule.js';
export * from './schema.js';
export * from './settings-store.js';
export * from './store.js';
export * from './zone-names.js';
