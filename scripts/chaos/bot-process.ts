// The real bot, its entry point src/main.ts (what node dist/main.js runs compiled) through tsx, in a child
// process the chaos run can SIGKILL. Node runs main.ts itself (tsx as a loader, not the tsx CLI, which would put a second process
// between us and the bot that a SIGKILL would not reach).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');
const KEPT_LINES = 40;

// A bot must not outlive the run that started it (Ctrl-C, a crash of the run): it would hold the lock.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface BotEnv {
  token: string;
  apiBase: string;
  databasePath: string;
  handlersDir: string;
  /** Where the child runs; its .env (if any) is read from here, so not the checkout's. */
  cwd: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class BotProcess {
  readonly #child: ChildProcess;
  readonly #lines: string[] = [];
  /** Log lines at error level or above (pino: 50 error, 60 fatal). */
  readonly errors: string[] = [];
  readonly exited: Promise<Exit>;
  /** Resolves once the bot logged "tasks resumed" (start-up is over); rejects if it exits first. */
  readonly ready: Promise<void>;

  constructor(env: BotEnv) {
    // The development condition: the chaos handler's `import … from 'metronome'` gets src/, as the bot does.
    this.#child = spawn(process.execPath, ['--conditions=development', '--import', TSX_LOADER, MAIN], {
      cwd: env.cwd,
      env: {
        PATH: process.env.PATH,
        DISCORD_TOKEN: env.token,
        DISCORD_API_BASE: env.apiBase,
        DATABASE_PATH: env.databasePath,
        HANDLERS_DIR: env.handlersDir,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) =>
      this.#child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    let markReady: () => void;
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      void this.exited.then((exit) =>
        reject(
          new Error(
            `the bot exited during start-up (code ${exit.code}, signal ${exit.signal}):\n${this.output()}`,
          ),
        ),
      );
    });
    this.ready.catch(() => {}); // a caller that never awaits it must not crash the run
    let buffer = '';
    this.#child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        this.#keep(line);
        const parsed = parseLogLine(line);
        if (parsed?.msg === 'tasks resumed') markReady();
        if (parsed && parsed.level >= 50) this.errors.push(line);
      }
    });
    this.#child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line) this.#keep(`stderr: ${line}`);
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** SIGKILL, synchronously: whatever the bot was doing stops here. */
  kill(): void {
    this.#child.kill('SIGKILL');
  }

  /** SIGTERM and wait: the graceful stop an operator gives. */
  async stop(): Promise<Exit> {
    this.#child.kill('SIGTERM');
    return this.exited;
  }

  /** The last lines the bot wrote, for a report when something goes wrong. */
  output(): string {
    return this.#lines.join('\n');
  }

  #keep(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > KEPT_LINES) this.#lines.shift();
  }
}

function parseLogLine(line: string): { msg?: string; level: number } | null {
  try {
    const parsed = JSON.parse(line) as { msg?: unknown; level?: unknown };
    return {
      ...(typeof parsed.msg === 'string' ? { msg: parsed.msg } : {}),
      level: typeof parsed.level === 'number' ? parsed.level : 0,
    };
  } catch {
    return null;
  }
}
