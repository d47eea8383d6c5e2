import {
  type APIMessageTopLevelComponent,
  type APISelectMenuOption,
  ComponentType,
  MessageFlags,
} from 'discord-api-types/v10';
import { invalidFormBody } from './errors.js';

/** A component a user can click or pick from, as found in a message (buttons and selects). */
export interface InteractiveComponent {
  type: ComponentType;
  custom_id: string;
  disabled?: boolean;
  options?: APISelectMenuOption[];
  min_values?: number;
  max_values?: number;
}

const SELECT_TYPES = new Set<number>([
  ComponentType.StringSelect,
  ComponentType.UserSelect,
  ComponentType.RoleSelect,
  ComponentType.MentionableSelect,
  ComponentType.ChannelSelect,
]);

const MAX_ROWS = 5;
const MAX_IN_ROW = 5;
const MAX_CUSTOM_ID = 100;
const MAX_OPTIONS = 25;

interface Node {
  type?: unknown;
  custom_id?: unknown;
  components?: unknown;
  accessory?: unknown;
  options?: unknown;
}

/**
 * Checks `components` of a message create/edit the way Discord does for the common cases (action rows of
 * at most 5 buttons or one select, custom_ids present, unique and at most 100 characters, 1-25 select
 * options) and answers 50035 naming the field. Components V2 layouts are accepted as given.
 */
export function parseComponents(value: unknown, flags = 0): APIMessageTopLevelComponent[] | undefined {
  if (value === undefined || value === null) return value === null ? [] : undefined;
  if (!Array.isArray(value)) throw invalidFormBody('components', 'BASE_TYPE_LIST', 'Must be a list.');
  const v2 = (flags & MessageFlags.IsComponentsV2) !== 0;
  if (!v2 && value.length > MAX_ROWS)
    throw invalidFormBody('components', 'BASE_TYPE_MAX_LENGTH', `Must be ${MAX_ROWS} or fewer in length.`);
  const seen = new Set<string>();
  value.forEach((row: Node, i) => {
    const at = `components.${i}`;
    if (typeof row !== 'object' || row === null) throw invalidFormBody(at, 'MODEL_TYPE_CONVERT', 'Invalid');
    if (row.type !== ComponentType.ActionRow) {
      if (!v2) throw invalidFormBody(`${at}.type`, 'COMPONENT_LAYOUT_INVALID', 'Expected an action row');
      return;
    }
    const children = Array.isArray(row.components) ? (row.components as Node[]) : [];
    if (children.length < 1 || children.length > MAX_IN_ROW) {
      throw invalidFormBody(`${at}.components`, 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.');
    }
    if (children.some((c) => SELECT_TYPES.has(c.type as number)) && children.length > 1) {
      throw invalidFormBody(
        `${at}.components`,
        'COMPONENT_LAYOUT_WIDTH_EXCEEDED',
        'A select menu must be alone in its action row',
      );
    }
    children.forEach((child, j) => {
      const where = `${at}.components.${j}`;
      const isLinkOrPremium =
        child.type === ComponentType.Button &&
        ((child as { url?: unknown }).url !== undefined ||
          (child as { sku_id?: unknown }).sku_id !== undefined);
      if (isLinkOrPremium) return;
      if (typeof child.custom_id !== 'string' || child.custom_id.length === 0) {
        throw invalidFormBody(`${where}.custom_id`, 'BASE_TYPE_REQUIRED', 'This field is required');
      }
      if (child.custom_id.length > MAX_CUSTOM_ID) {
        throw invalidFormBody(
          `${where}.custom_id`,
          'BASE_TYPE_MAX_LENGTH',
          `Must be ${MAX_CUSTOM_ID} or fewer in length.`,
        );
      }
      if (seen.has(child.custom_id)) {
        throw invalidFormBody(
          `${where}.custom_id`,
          'COMPONENT_CUSTOM_ID_DUPLICATED',
          'Component custom id cannot be duplicated',
        );
      }
      seen.add(child.custom_id);
      if (child.type === ComponentType.StringSelect) {
        const options = Array.isArray(child.options) ? child.options : [];
        if (options.length < 1 || options.length > MAX_OPTIONS) {
          throw invalidFormBody(
            `${where}.options`,
            'BASE_TYPE_BAD_LENGTH',
            `Must be between 1 and ${MAX_OPTIONS} in length.`,
          );
        }
      }
    });
  });
  return value as APIMessageTopLevelComponent[];
}

/** A button or select found in a message: what clicking it needs, and what a reader sees on it. */
export type MessageControl = Omit<InteractiveComponent, 'custom_id'> & {
  /** Absent on link and premium buttons. */
  custom_id?: string;
  label?: string;
};

/** Every button and select in the message's components (rows, containers, sections), in reading order. */
export function controlsOf(components: readonly unknown[]): MessageControl[] {
  const found: MessageControl[] = [];
  for (const node of components as Node[]) {
    if (typeof node !== 'object' || node === null) continue;
    if (node.type === ComponentType.Button || SELECT_TYPES.has(node.type as number)) {
      found.push(node as MessageControl);
      continue;
    }
    const nested = [
      ...(Array.isArray(node.components) ? node.components : []),
      ...(node.accessory !== undefined ? [node.accessory] : []),
    ];
    found.push(...controlsOf(nested));
  }
  return found;
}

/** The button or select with this custom_id anywhere in the message's components (rows, containers, sections). */
export function findComponent(components: readonly unknown[], customId: string): InteractiveComponent | null {
  const control = controlsOf(components).find((c) => c.custom_id === customId);
  return control ? (control as InteractiveComponent) : null;
}
