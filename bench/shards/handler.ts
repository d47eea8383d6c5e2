// The shards bench's task kind, written into a temporary HANDLERS_DIR for the bot to load as any custom
// handler. Plain JavaScript, so the compiled bot loads it without tsx in the shard processes (which would
// count in their RSS). It does nothing: what the tasks scenario measures is the runtime, its journal and
// run rows, not Discord's 50 requests a second, which 100,000 posting tasks would only queue behind.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const NOOP_KIND = 'noop';

const SOURCE = `import { defineHandler } from 'metronome';
import { z } from 'zod';

export default defineHandler({
  kind: '${NOOP_KIND}',
  description: 'Does nothing: the shards bench measures the runtime, not Discord',
  options: z.object({}),
  async run() {},
});
`;

/** Writes the no-op handler module into `dir` (the HANDLERS_DIR). */
export function writeNoopHandler(dir: string): void {
  writeFileSync(join(dir, `${NOOP_KIND}.js`), SOURCE);
}
