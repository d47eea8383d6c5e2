// `npm start`: the friendly way to run the bot. Builds dist/ first if it is missing or older than src/, then
// runs the compiled bot in this same process (npm → node, nothing between). In production run
// `node dist/main.js` directly (README, "Running it on your server"): npm does not pass SIGTERM on.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BOT, buildIfStale, staleReason, typeScriptCompiler } from './build.mjs';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

// Read before the build: node reads ppid once, and npm may be gone by the time a long build ends.
const parent = process.ppid;

// Read once and handed to buildIfStale: every start walks src/ for it, and one walk will do.
const stale = staleReason();
if (stale !== undefined && typeScriptCompiler() === undefined && existsSync(MAIN)) {
  // An install without dev dependencies that was given a built dist/: run it rather than refuse to start.
  process.stderr.write(
    `${stale}, and TypeScript is not installed to rebuild it: starting the existing build as it is\n`,
  );
} else {
  const problem = buildIfStale(BOT, stale);
  if (problem !== undefined) {
    process.stderr.write(`${problem}\n`);
    process.exit(1);
  }
}

// npm 11 exits on SIGTERM without passing it on, and the bot would run on unsupervised under init: losing the
// process that started us is taken as the SIGTERM it did not forward (a graceful stop, exit 0).
const parentWatch = setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch (error) {
    if (error.code !== 'ESRCH') return;
    clearInterval(parentWatch);
    process.kill(process.pid, 'SIGTERM');
  }
}, 1_000);
parentWatch.unref();

await import(new URL('../dist/main.js', import.meta.url).href);
