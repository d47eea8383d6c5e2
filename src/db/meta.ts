// The meta queries live in store.ts with the others (and reach callers through db/index.js). This module
// only keeps src/discord/sync.ts's import working until it imports them from '../db/index.js'; then delete it.
export { deleteMeta, metaKeysStartingWith } from './store.js';
