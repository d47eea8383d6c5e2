// Which file each handler kind was loaded from (HandlerRegistry.files) tells the watchdog, from the stuck
// thread's stack, which of several runs in flight is the one blocking the bot.
import { pathToFileURL } from 'node:url';

/**
 * The runs whose handler module is on the stuck thread's stack; all of them when none is (the block is in
 * code the stack does not tie to a handler) or the stack is unknown.
 */
export function runsOnStack<Run extends { kind: string }>(
  runs: readonly Run[],
  stack: readonly string[] | undefined,
  files: ReadonlyMap<string, string>,
): { runs: Run[]; certain: boolean } {
  if (stack === undefined) return { runs: [...runs], certain: false };
  const onStack = runs.filter((run) => {
    const file = files.get(run.kind);
    if (file === undefined) return false;
    const url = pathToFileURL(file).href;
    // Frames name the file as a path under tsx and as a file: URL under plain node, in parentheses after a
    // function name or alone for an anonymous function.
    return stack.some((frame) =>
      [file, url].some((name) => frame.includes(`(${name}:`) || frame.startsWith(`${name}:`)),
    );
  });
  return onStack.length > 0 ? { runs: onStack, certain: true } : { runs: [...runs], certain: false };
}
