// Handler folders outside the checkout, as an author has them: no node_modules (or one with only their own
// packages) and no package.json. Shared by the development (tsx) and compiled (dist/) tests.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface AnywhereFolders {
  /** No node_modules at all: .js and .ts handlers, a module.exports handler, and two that cannot load. */
  bare: string;
  /** Its node_modules holds the author's own package (which imports zod without having it) and a stale metronome. */
  withPackages: string;
  remove(): void;
}

const SEEN_ESM = (kind: string, annotation = '') => `
import { defineHandler, TransientError } from 'metronome';
import { z } from 'zod';
export const seen = { defineHandler, TransientError, z };
const options${annotation} = z.object({ text: z.string().default('hi') });
export default defineHandler({ kind: '${kind}', description: 'd', options, async run() {} });
`;

function write(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

export function anywhereFolders(): AnywhereFolders {
  const parent = mkdtempSync(join(tmpdir(), 'metronome-anywhere-'));
  const bare = join(parent, 'bare');
  const withPackages = join(parent, 'with-packages');
  write(bare, {
    'plain.js': SEEN_ESM('plain-js'),
    'typed.ts': SEEN_ESM('typed-ts', ': z.ZodType<{ text: string }, { text?: string }>'),
    'common.js': `module.exports = {
  kind: 'common-js',
  description: 'd',
  options: { safeParse: (value) => ({ success: true, data: value }) },
  async run() {},
};
`,
    'missing-package.ts': `import { pad } from 'left-pad-nowhere';\nexport default pad;\n`,
    'missing-export.js': `import { notThere } from 'metronome';\nexport default notThere;\n`,
  });
  write(withPackages, {
    'shouting.ts': `
import { defineHandler } from 'metronome';
import { shout, zodOfShout } from 'shout';
import { z } from 'zod';
export const seen = { defineHandler, z, shouted: shout('hi'), shoutHasTheBotsZod: zodOfShout === z };
export default defineHandler({ kind: 'shouting', description: 'd', options: z.object({}), async run() {} });
`,
    'node_modules/shout/package.json': '{ "name": "shout", "type": "module", "exports": "./index.js" }\n',
    'node_modules/shout/index.js': `import { z } from 'zod';
export const shout = (text) => text.toUpperCase();
export const zodOfShout = z;
`,
    'node_modules/metronome/package.json':
      '{ "name": "metronome", "type": "module", "exports": "./index.js" }\n',
    'node_modules/metronome/index.js':
      'export const defineHandler = (handler) => ({ ...handler, stale: true });\n',
  });
  return { bare, withPackages, remove: () => rmSync(parent, { recursive: true, force: true }) };
}

export interface LoadedAnywhere {
  kinds: string[];
  skipped: { path: string; reason: string }[];
  modules: Record<string, Record<string, unknown>>;
}
