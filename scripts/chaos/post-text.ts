// The line each chaos post carries, shared by the handler that writes it and the checks that read it back.

export const postText = (name: string, iteration: number, slotMs: number): string =>
  `chaos ${name} #${iteration} @${slotMs}`;

export function parsePostText(content: string): { name: string; iteration: number; slotMs: number } | null {
  const match = /^chaos (\S+) #(\d+) @(\d+)$/.exec(content);
  return match ? { name: match[1]!, iteration: Number(match[2]), slotMs: Number(match[3]) } : null;
}
