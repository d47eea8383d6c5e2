// Lists too long for one message, as pages a member turns with Previous / Next buttons: which lines go on
// which page, and the row of buttons. What a page shows and who may turn it is the command's business.
import { ActionRowBuilder, ButtonBuilder, ButtonStyle } from 'discord.js';

export interface PageLimits {
  /** Most lines on one page. */
  lines: number;
  /** Most characters of one page's lines joined by newlines, leaving the rest of a message to its header. */
  characters: number;
}

/**
 * Splits lines into pages, in order, each within both limits. A line longer than `characters` on its own
 * gets a page to itself (the caller keeps lines short enough for a message). No lines: one empty page.
 */
export function paginate(lines: readonly string[], limits: PageLimits): string[][] {
  const pages: string[][] = [[]];
  let size = 0;
  for (const line of lines) {
    const page = pages[pages.length - 1]!;
    const grown = page.length === 0 ? line.length : size + 1 + line.length;
    if (page.length > 0 && (page.length >= limits.lines || grown > limits.characters)) {
      pages.push([line]);
      size = line.length;
    } else {
      page.push(line);
      size = grown;
    }
  }
  return pages;
}

/** The page to show for a requested one: an old button may name a page that no longer exists. */
export function clampPage(page: number, pageCount: number): number {
  return Math.min(Math.max(1, Math.trunc(page)), Math.max(1, pageCount));
}

/** `page 2 of 7`. */
export function pageLabel(page: number, pageCount: number): string {
  return `page ${page} of ${pageCount}`;
}

/** The answer to a page click by anyone but the member who ran the command (only a forged click can be). */
export const NOT_YOUR_PAGES =
  'Only the admin who ran this command can turn its pages; run it yourself to get your own.';

export const PREVIOUS_LABEL = '◀ Previous';
export const NEXT_LABEL = 'Next ▶';

/**
 * The Previous / Next row for `page` of `pageCount` (at least 2), each button's custom id made by `idFor`
 * from the page it turns to. At either end the button that would leave the list is disabled; it still
 * names an in-range page, so the two ids differ as Discord requires.
 */
export function pageButtons(
  page: number,
  pageCount: number,
  idFor: (page: number) => string,
): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder()
      .setCustomId(idFor(Math.max(1, page - 1)))
      .setLabel(PREVIOUS_LABEL)
      .setStyle(ButtonStyle.Secondary)
      .setDisabled(page <= 1),
    new ButtonBuilder()
      .setCustomId(idFor(Math.min(pageCount, page + 1)))
      .setLabel(NEXT_LABEL)
      .setStyle(ButtonStyle.Secondary)
      .setDisabled(page >= pageCount),
  );
}
