// metronome/testing: test a handler on the emulator and a fake clock, with no Discord and no token. Its own
// entry, so the bot (metronome, dist/main.js) never loads the emulator; nothing else in src/ imports it.
export type { LogLine, TaskSettings, Testbed, TestbedOptions, TestTask } from './testbed.js';
export { handlerTestbed } from './testbed.js';
