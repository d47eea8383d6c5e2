// The package entry: what a custom handler module or another program imports from 'metronome'.
export type {
  Handler,
  HandlerContext,
  HandlerSetupContext,
  HandlerStore,
  HandlerTask,
  RunningTasks,
} from './handlers/define.js';
export { defineHandler } from './handlers/define.js';
export * from './loop/index.js';
