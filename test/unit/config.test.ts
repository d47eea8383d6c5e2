import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadDotEnv } from '../../src/config.js';
import { createLogger } from '../../src/log.js';

const TOKEN = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB';

describe('loadConfig', () => {
  it('names DISCORD_TOKEN and .env.example when the token is missing or empty', () => {
    for (const env of [{}, { DISCORD_TOKEN: '' }, { DISCORD_TOKEN: '   ' }]) {
      expect(() => loadConfig(env, '/srv')).toThrowError(ConfigError);
      expect(() => loadConfig(env, '/srv')).toThrowError(/^DISCORD_TOKEN is required.*\.env\.example/);
    }
  });

  it('applies defaults and resolves paths against the working directory', () => {
    const config = loadConfig(
      { DISCORD_TOKEN: TOKEN, HANDLERS_DIR: 'handlers', DEV_GUILD_ID: '' },
      '/srv/bot',
    );
    expect(config).toEqual({
      discordToken: TOKEN,
      databasePath: '/srv/bot/data/metronome.db',
      handlersDir: '/srv/bot/handlers',
      devGuildId: undefined,
      logLevel: 'info',
      discordApiBase: undefined,
      watchdogWarnMs: 5_000,
      watchdogLimitMs: 30_000,
      metrics: undefined,
      shardCount: 'auto',
      shardsPerProcess: 1,
    });
  });

  it('turns the metrics listener on with METRICS_PORT, on loopback unless METRICS_HOST says otherwise', () => {
    const read = (env: Record<string, string>) => loadConfig({ DISCORD_TOKEN: TOKEN, ...env }, '/srv');
    expect(read({ METRICS_PORT: '', METRICS_HOST: '' }).metrics).toBeUndefined();
    expect(read({ METRICS_PORT: '9464' }).metrics).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(read({ METRICS_PORT: ' 9464 ', METRICS_HOST: '0.0.0.0' }).metrics).toEqual({
      port: 9464,
      host: '0.0.0.0',
    });
    expect(read({ METRICS_PORT: '65535', METRICS_HOST: '::' }).metrics).toEqual({ port: 65535, host: '::' });
    expect(read({ METRICS_PORT: '1', METRICS_HOST: 'metrics.internal' }).metrics?.host).toBe(
      'metrics.internal',
    );
  });

  it('refuses a METRICS_PORT that is not a port, and a METRICS_HOST without a port', () => {
    const read = (env: Record<string, string>) => loadConfig({ DISCORD_TOKEN: TOKEN, ...env }, '/srv');
    for (const port of ['0', '65536', '-1', '9464.5', 'abc', '1e3', '0x10', '99999999']) {
      expect(() => read({ METRICS_PORT: port })).toThrowError(
        /^METRICS_PORT must be a port number from 1 to 65535, such as 9464 \(leave it empty for no metrics listener\)$/,
      );
    }
    for (const host of ['http://0.0.0.0', '127.0.0.1:9464', 'a b', '-bad.example']) {
      expect(() => read({ METRICS_PORT: '9464', METRICS_HOST: host })).toThrowError(
        /^METRICS_HOST must be an IP address or a host name/,
      );
    }
    expect(() => read({ METRICS_HOST: '0.0.0.0' })).toThrowError(
      /^METRICS_HOST is set but METRICS_PORT is not: set METRICS_PORT to turn the listener on$/,
    );
  });

  it('reads the watchdog thresholds in seconds; a limit of 0 turns the hard limit off', () => {
    const read = (env: Record<string, string>) => loadConfig({ DISCORD_TOKEN: TOKEN, ...env }, '/srv');
    expect(read({ WATCHDOG_WARN_SECONDS: '0.5', WATCHDOG_LIMIT_SECONDS: '2.5' })).toMatchObject({
      watchdogWarnMs: 500,
      watchdogLimitMs: 2_500,
    });
    expect(read({ WATCHDOG_LIMIT_SECONDS: '0' }).watchdogLimitMs).toBeNull();
    expect(() => read({ WATCHDOG_LIMIT_SECONDS: '-1' })).toThrowError(
      /^WATCHDOG_LIMIT_SECONDS must be a number of seconds, such as 30 or 2.5$/,
    );
    expect(() => read({ WATCHDOG_WARN_SECONDS: '0' })).toThrowError(
      /^WATCHDOG_WARN_SECONDS must be more than 0 seconds$/,
    );
    expect(() => read({ WATCHDOG_WARN_SECONDS: '30', WATCHDOG_LIMIT_SECONDS: '10' })).toThrowError(
      /^WATCHDOG_WARN_SECONDS must be less than WATCHDOG_LIMIT_SECONDS \(10\)$/,
    );
  });

  it('reports every invalid variable by name, one line each', () => {
    try {
      loadConfig({ DISCORD_TOKEN: TOKEN, LOG_LEVEL: 'loud', DEV_GUILD_ID: 'abc', DISCORD_API_BASE: 'nope' });
      expect.unreachable();
    } catch (err) {
      const lines = (err as Error).message.split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(/^DEV_GUILD_ID /);
      expect(lines[1]).toMatch(/^LOG_LEVEL must be one of/);
      expect(lines[2]).toMatch(/^DISCORD_API_BASE must be a URL/);
    }
  });
});

describe('createLogger', () => {
  it('never writes the token, wherever it appears', () => {
    let out = '';
    const destination = new Writable({
      write(chunk, _encoding, done) {
        out += String(chunk);
        done();
      },
    });
    const log = createLogger({ destination, token: 'emulator-token-1' });
    log.info({ token: TOKEN }, 'logging in');
    log.error({ err: new Error(`401 for Bot ${TOKEN}`) }, 'failed');
    log.warn(`custom token emulator-token-1 leaked into text`);
    log.info({ config: { discordToken: TOKEN, databasePath: '/x' } }, 'config');
    expect(out).not.toContain(TOKEN);
    expect(out).not.toContain('emulator-token-1');
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line).toContain('[token]');
    expect(out).toContain('/x');
  });
});

describe('loadDotEnv', () => {
  it('fills process.env from the file, never over a variable already set, and skips a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metronome-env-'));
    const file = join(dir, '.env');
    writeFileSync(file, 'METRONOME_TEST_FROM_FILE=file\nMETRONOME_TEST_ALREADY_SET=file\n');
    process.env.METRONOME_TEST_ALREADY_SET = 'environment';
    try {
      loadDotEnv(file);
      expect(process.env.METRONOME_TEST_FROM_FILE).toBe('file');
      expect(process.env.METRONOME_TEST_ALREADY_SET).toBe('environment');
      expect(() => loadDotEnv(join(dir, 'absent.env'))).not.toThrow();
    } finally {
      delete process.env.METRONOME_TEST_FROM_FILE;
      delete process.env.METRONOME_TEST_ALREADY_SET;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
