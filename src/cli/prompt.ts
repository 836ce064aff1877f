/**
 * Prompts, behind a small interface so handlers can be tested with scripted answers and so that a
 * prompt outside a terminal is impossible: it is an error naming the flag that supplies the value.
 */
import { usageError } from '../core/errors.js';

export interface Choice<T extends string> {
  value: T;
  name?: string;
  description?: string;
}

export interface Prompter {
  input(options: { message: string; default?: string; validate?: (value: string) => true | string }): Promise<string>;
  secret(options: { message: string; validate?: (value: string) => true | string }): Promise<string>;
  select<T extends string>(options: { message: string; choices: Choice<T>[]; default?: T }): Promise<T>;
  confirm(options: { message: string; default?: boolean }): Promise<boolean>;
}

// Loaded on the first prompt: scripts never prompt and should not pay for it at start-up.
const prompts = () => import('@inquirer/prompts');

/** The real prompts, on the terminal's stdin/stdout. */
export const terminalPrompter: Prompter = {
  input: async (options) => (await prompts()).input(options),
  secret: async (options) => (await prompts()).password({ ...options, mask: '•' }),
  select: async (options) => (await prompts()).select(options),
  confirm: async (options) => (await prompts()).confirm(options),
};

/** Used when stdin or stdout is not a terminal, or CI is set: every prompt is a usage error. */
export function refusingPrompter(flagFor: (message: string) => string): Prompter {
  const refuse = (message: string): never => {
    throw usageError(
      `missing value: ${message.replace(/[:?]\s*$/, '')}`,
      `pass ${flagFor(message)} (prompts only run on a terminal, outside CI)`,
    );
  };
  return {
    input: async ({ message }) => refuse(message),
    secret: async ({ message }) => refuse(message),
    select: async ({ message }) => refuse(message),
    confirm: async ({ message }) => refuse(message),
  };
}
