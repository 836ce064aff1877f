/**
 * Shell completion (bash, zsh, fish) with @bomb.sh/tab: `embctl completion SHELL` prints the script,
 * which calls `embctl complete -- ARGS` on TAB. Commands, options and fixed choices come from the
 * commander tree; profile names and model ids are dynamic. Model ids are fetched from the gateway
 * before completing (tab's handlers are synchronous) with a short timeout, cached for a minute,
 * and silently left out when the gateway does not answer.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import type { Command as PlainCommand } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CliContext } from './context.js';

const CACHE_FILE = 'completion-cache.json';
const CACHE_TTL_MS = 60_000;
const FETCH_TIMEOUT_MS = 1500;

interface Cache {
  url: string;
  at: number;
  entities: string[];
  models: string[];
}

export interface CompletionData {
  profiles: string[];
  entities: string[];
  models: string[];
}

/** Profile names from the file; entity ids and model names from the gateway (or the cache). */
export async function completionData(ctx: CliContext): Promise<CompletionData> {
  const profiles = ctx.profiles.list().map(([name]) => name);
  const url = ctx.settings.url;
  if (!url || ctx.settings.embedded) return { profiles, entities: [], models: [] };
  const cachePath = join(ctx.profiles.path, '..', CACHE_FILE);
  try {
    const cache = JSON.parse(readFileSync(cachePath, 'utf8')) as Cache;
    if (cache.url === url && Date.now() - cache.at < CACHE_TTL_MS)
      return { profiles, entities: cache.entities, models: cache.models };
  } catch {
    // no cache yet
  }
  const { GatewayClient } = await import('../client/gateway-client.js');
  const client = new GatewayClient({
    url,
    apiKey: ctx.settings.apiKey,
    adminToken: ctx.settings.adminToken,
    timeoutMs: FETCH_TIMEOUT_MS,
  });
  const [entities, models] = await Promise.all([
    ctx.settings.adminToken
      ? client
          .listEntities()
          .then((list) => list.map((e) => e.id))
          .catch(() => [])
      : Promise.resolve([]),
    ctx.settings.apiKey
      ? client
          .models()
          .then((list) => list.map((m) => m.id))
          .catch(() => [])
      : Promise.resolve([]),
  ]);
  await client.close();
  try {
    writeFileSync(cachePath, JSON.stringify({ url, at: Date.now(), entities, models } satisfies Cache), {
      mode: 0o600,
    });
  } catch {
    // completion must never fail over a cache
  }
  return { profiles, entities, models };
}

type Complete = (value: string, description: string) => void;
const offer = (values: string[]) => (complete: Complete) => {
  for (const v of values) complete(v, '');
};

/** Adds the `completion` and hidden `complete` commands, with dynamic values when `data` is given. */
export async function installCompletion(program: CommandUnknownOpts, data: CompletionData | undefined): Promise<void> {
  const { default: tab } = await import('@bomb.sh/tab/commander');
  // The same object: extra-typings only adds types over commander's class.
  const root = tab(program as unknown as PlainCommand, { completionCommandName: 'completion' });
  // Global options (-o, --profile, --url, …) are accepted after any subcommand: offer them there too.
  for (const command of root.commands.values()) {
    for (const [name, option] of root.options) if (!command.options.has(name)) command.options.set(name, option);
  }
  if (!data) return;
  const setArgument = (command: string, argument: string, values: string[]) => {
    const arg = root.commands.get(command)?.arguments.get(argument);
    if (arg) arg.handler = offer(values);
  };
  for (const command of [
    'models get',
    'models update',
    'models delete',
    'models enable',
    'models disable',
    'models constrain',
  ])
    setArgument(command, 'id', data.entities);
  for (const command of ['profile use', 'profile show', 'profile remove']) setArgument(command, 'name', data.profiles);
  for (const command of [root, ...root.commands.values()]) {
    const profile = command.options.get('profile');
    if (profile) profile.handler = offer(data.profiles);
    const model = command.options.get('model');
    if (model && (command.value === 'embed' || command.value === 'search')) model.handler = offer(data.models);
  }
}
