// Discord's size limits for one application command, so /task is assembled to fit rather than refused.
// Discord counts the name, description and choice names and values of the command and of every option,
// subcommand and group inside it, recursively; where localizations exist, only the longest spelling of
// each field (the default included) counts. The total may not pass 8,000 characters.
// (discord-api-docs: "Application Commands" → Registering a Command, limits; raised from 4,000 in 2024.)

export const MAX_COMMAND_CHARACTERS = 8_000;
/** Options per command or subcommand, subcommands per group, and choices per option. */
export const MAX_OPTIONS = 25;

/** The parts of a command, option or choice that count toward the limit. */
export interface SizedPiece {
  name: string;
  name_localizations?: Record<string, string | null> | null;
  description?: string;
  description_localizations?: Record<string, string | null> | null;
  choices?: readonly {
    name: string;
    name_localizations?: Record<string, string | null> | null;
    value: unknown;
  }[];
  options?: readonly SizedPiece[];
}

/** How many of the 8,000 characters this command (or option, with everything inside it) uses. */
export function commandCharacters(piece: SizedPiece): number {
  let total =
    longest(piece.name, piece.name_localizations) +
    longest(piece.description ?? '', piece.description_localizations);
  for (const choice of piece.choices ?? []) {
    total += longest(choice.name, choice.name_localizations) + String(choice.value).length;
  }
  for (const option of piece.options ?? []) total += commandCharacters(option);
  return total;
}

function longest(text: string, localizations: Record<string, string | null> | null | undefined): number {
  return Math.max(text.length, ...Object.values(localizations ?? {}).map((local) => local?.length ?? 0));
}
