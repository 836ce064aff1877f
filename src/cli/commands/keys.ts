import { splitPatterns, unusableReason, type ApiKeyRecord, type ApiKeyView } from '../../core/api-key.js';
import { CliError, ExitCode, usageError } from '../../core/errors.js';
import { parseDurationMs, parseTime } from '../../core/request-log.js';
import { collect, confirmDestructive, handle, type MakeContext } from '../command.js';
import type { Root } from '../program.js';
import type { CliContext } from '../context.js';
import type { Column } from '../output.js';
import type { KeyUsage } from '../../gateway/limits.js';
import { checkConstrainOptions, constrainedLists, type ConstrainOptions } from './models.js';

const statusOf = (key: ApiKeyView) => {
  const reason = unusableReason({ ...key, hash: '' } as ApiKeyRecord);
  if (!reason) return 'active';
  return key.revoked_at ? 'revoked' : !key.enabled ? 'disabled' : 'expired';
};

const limitText = (key: ApiKeyView) => {
  const l = key.limits;
  if (!l) return '';
  return [
    l.rpm && `${l.rpm} rpm`,
    l.tpm && `${l.tpm} tpm`,
    l.budget_usd_day && `$${l.budget_usd_day}/day`,
    l.budget_usd_month && `$${l.budget_usd_month}/month`,
  ]
    .filter(Boolean)
    .join(', ');
};

const COLUMNS: Column<ApiKeyView>[] = [
  { header: 'id', value: (k) => k.id },
  { header: 'name', value: (k) => k.name },
  { header: 'key', value: (k) => k.redacted },
  { header: 'status', value: statusOf },
  { header: 'expires', value: (k) => k.expires_at ?? 'never' },
  { header: 'include', value: (k) => k.metadata.ai_models_include ?? '' },
  { header: 'exclude', value: (k) => k.metadata.ai_models_exclude ?? '' },
  { header: 'limits', value: limitText },
  { header: 'created', value: (k) => k.created_at },
];

/** `30d` from now, or an ISO time. */
function expiryOf(value: string | undefined): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'never') return null;
  const ahead = parseDurationMs(value);
  const at = ahead !== undefined ? Date.now() + ahead : parseTime(value);
  if (at === undefined) throw usageError(`--expires takes a duration like 30d, an ISO time, or never; got '${value}'`);
  return new Date(at).toISOString();
}

/** A key by id, or by name when exactly one has it. */
async function resolveKey(ctx: CliContext, idOrName: string): Promise<ApiKeyView> {
  const client = await ctx.client();
  if (idOrName.startsWith('key_')) return client.getKey(idOrName);
  const named = (await client.listKeys()).filter((k) => k.name === idOrName);
  if (named.length === 1) return named[0]!;
  throw new CliError(
    named.length ? `${named.length} keys are named '${idOrName}'` : `no API key has the id or name '${idOrName}'`,
    named.length ? ExitCode.failure : ExitCode.notFound,
    named.length ? `use the id: ${named.map((k) => k.id).join(', ')}` : 'list them with `embctl keys list`',
  );
}

export interface LimitFlags {
  rpm?: string;
  tpm?: string;
  budgetDay?: string;
  budgetMonth?: string;
}

/** `--rpm 60 --budget-day 5`; on update, `none` removes a limit. */
function limitsOf(flags: LimitFlags, allowNone: boolean): Record<string, number | null> | undefined {
  const limits: Record<string, number | null> = {};
  for (const [flag, field, whole] of [
    ['rpm', 'rpm', true],
    ['tpm', 'tpm', true],
    ['budgetDay', 'budget_usd_day', false],
    ['budgetMonth', 'budget_usd_month', false],
  ] as const) {
    const value = flags[flag];
    if (value === undefined) continue;
    const name = `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (value === 'none' && allowNone) {
      limits[field] = null;
      continue;
    }
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || (whole && !Number.isInteger(n)))
      throw usageError(
        `${name} must be a ${whole ? 'whole ' : ''}number above 0${allowNone ? ', or none' : ''}; got '${value}'`,
      );
    limits[field] = n;
  }
  return Object.keys(limits).length ? limits : undefined;
}

export interface KeyCreateOptions extends LimitFlags {
  name?: string;
  expires?: string;
  include: string[];
  exclude: string[];
  disabled?: boolean;
}

export async function keysCreate(
  nameArg: string | undefined,
  options: KeyCreateOptions,
  ctx: CliContext,
): Promise<void> {
  const constraints = { include: options.include, exclude: options.exclude, clear: true };
  checkConstrainOptions(constraints);
  const name =
    nameArg ??
    options.name ??
    (await ctx.prompt.input({ message: 'Key name:', validate: (v) => v.trim() !== '' || 'required' }));
  const models = constrainedLists({ include: [], exclude: [] }, constraints);
  const metadata: Record<string, string> = {};
  if (models.include.length) metadata.ai_models_include = models.include.join(',');
  if (models.exclude.length) metadata.ai_models_exclude = models.exclude.join(',');
  const expires = expiryOf(options.expires);
  const limits = limitsOf(options, false);
  const created = await (await ctx.client()).createKey({
    name,
    enabled: !options.disabled,
    metadata,
    ...(expires !== undefined ? { expires_at: expires } : {}),
    ...(limits ? { limits } : {}),
  });
  const { out } = ctx;
  if (out.quiet) {
    out.text(created.secret);
    return;
  }
  if (out.format === 'table') {
    out.item({ ...created, secret: created.secret }, [
      ...COLUMNS.slice(0, 2),
      { header: 'secret', value: () => created.secret },
      ...COLUMNS.slice(3),
    ] as Column<object>[]);
  } else {
    out.item(created);
  }
  out.warn('this is the only time the secret is shown: store it now (only its hash is kept)');
}

export async function keysList(ctx: CliContext): Promise<void> {
  ctx.out.list(await (await ctx.client()).listKeys(), COLUMNS);
}

export async function keysGet(idOrName: string, ctx: CliContext): Promise<void> {
  const key = await resolveKey(ctx, idOrName);
  // The single-key read carries the key's usage against its limits and budgets.
  const full = ('usage' in key ? key : await (await ctx.client()).getKey(key.id)) as ApiKeyView & { usage?: KeyUsage };
  const usage = full.usage;
  const usageColumns: Column<object>[] = usage
    ? [
        {
          header: 'this minute',
          value: () => `${usage.requests_this_minute} requests, ${usage.tokens_this_minute} tokens`,
        },
        { header: 'spent today', value: () => `$${usage.spent_today_usd.toFixed(6)}` },
        { header: 'spent this month', value: () => `$${usage.spent_this_month_usd.toFixed(6)}` },
      ]
    : [];
  ctx.out.item(full, ctx.out.format === 'table' ? [...(COLUMNS as Column<object>[]), ...usageColumns] : undefined);
}

export async function keysRevoke(idOrName: string, ctx: CliContext): Promise<void> {
  const key = await resolveKey(ctx, idOrName);
  await confirmDestructive(ctx, `revoke API key '${key.name}' (${key.id}); callers using it get 401 at once`);
  const revoked = await (await ctx.client()).revokeKey(key.id);
  ctx.out.success(`revoked ${key.id} (${key.name})`);
  if (ctx.out.format !== 'table') ctx.out.item(revoked);
}

export async function keysDelete(idOrName: string, ctx: CliContext): Promise<void> {
  const key = await resolveKey(ctx, idOrName);
  await confirmDestructive(ctx, `delete API key '${key.name}' (${key.id})`);
  await (await ctx.client()).deleteKey(key.id);
  ctx.out.success(`deleted ${key.id} (${key.name})`);
}

export async function keysConstrain(idOrName: string, options: ConstrainOptions, ctx: CliContext): Promise<void> {
  checkConstrainOptions(options);
  const key = await resolveKey(ctx, idOrName);
  const current = {
    include: splitPatterns(key.metadata.ai_models_include),
    exclude: splitPatterns(key.metadata.ai_models_exclude),
  };
  const models = constrainedLists(current, options);
  const metadata = {
    ...key.metadata,
    ai_models_include: models.include.join(','),
    ai_models_exclude: models.exclude.join(','),
  };
  const updated = await (await ctx.client()).patchKey(key.id, { metadata });
  ctx.out.success(`${key.id}: include ${JSON.stringify(models.include)}, exclude ${JSON.stringify(models.exclude)}`);
  if (ctx.out.format !== 'table') ctx.out.item(updated);
}

export interface KeyUpdateOptions extends LimitFlags {
  name?: string;
  expires?: string;
  enable?: boolean;
  disable?: boolean;
}

export async function keysUpdate(idOrName: string, options: KeyUpdateOptions, ctx: CliContext): Promise<void> {
  const key = await resolveKey(ctx, idOrName);
  const patch: Record<string, unknown> = {};
  if (options.name) patch.name = options.name;
  if (options.enable) patch.enabled = true;
  if (options.disable) patch.enabled = false;
  const expires = expiryOf(options.expires);
  if (expires !== undefined) patch.expires_at = expires;
  const limits = limitsOf(options, true);
  if (limits) patch.limits = limits;
  if (Object.keys(patch).length === 0)
    throw usageError(
      'nothing to update',
      'pass --name, --expires, --enable, --disable or a limit (--rpm, --tpm, --budget-day, --budget-month)',
    );
  const updated = await (await ctx.client()).patchKey(key.id, patch);
  ctx.out.success(`updated ${key.id}`);
  ctx.out.item(updated, ctx.out.format === 'table' ? (COLUMNS as Column<object>[]) : undefined);
}

export function registerKeyCommands(program: Root, makeContext: MakeContext): void {
  const keys = program.command('keys').description('manage API keys');
  handle(
    keys
      .command('create')
      .argument('[name]', 'a name for the key (who or what uses it)')
      .description('create a key; the secret is printed once (only the secret with -q)')
      .option('--name <name>', 'the key name')
      .option('--expires <when>', 'a duration from now (30d) or an ISO time')
      .option('--include <regex>', 'models it may use, full match (repeatable)', collect, [])
      .option('--exclude <regex>', 'models it may not use, full match (repeatable)', collect, [])
      .option('--disabled', 'create it disabled')
      .option('--rpm <n>', 'requests per minute')
      .option('--tpm <n>', 'tokens per minute')
      .option('--budget-day <usd>', 'spend per UTC day, in USD')
      .option('--budget-month <usd>', 'spend per UTC month, in USD'),
    makeContext,
    (o, ctx, name) => keysCreate(name, o, ctx),
  );
  handle(keys.command('list').alias('ls').description('list keys (never their secrets)'), makeContext, (_o, ctx) =>
    keysList(ctx),
  );
  handle(keys.command('get').argument('<key>', 'id or name').description('show one key'), makeContext, (_o, ctx, key) =>
    keysGet(key, ctx),
  );
  handle(
    keys
      .command('update')
      .argument('<key>', 'id or name')
      .description('rename, re-date, enable or disable a key')
      .option('--name <name>', 'new name')
      .option('--expires <when>', 'a duration from now, an ISO time, or never')
      .option('--enable', 'enable it')
      .option('--disable', 'disable it')
      .option('--rpm <n>', 'requests per minute (none removes the limit)')
      .option('--tpm <n>', 'tokens per minute (none removes the limit)')
      .option('--budget-day <usd>', 'spend per UTC day in USD (none removes it)')
      .option('--budget-month <usd>', 'spend per UTC month in USD (none removes it)'),
    makeContext,
    (o, ctx, key) => keysUpdate(key, o, ctx),
  );
  handle(
    keys.command('revoke').argument('<key>', 'id or name').description('revoke a key at once (asks, or needs --yes)'),
    makeContext,
    (_o, ctx, key) => keysRevoke(key, ctx),
  );
  handle(
    keys
      .command('delete')
      .alias('rm')
      .argument('<key>', 'id or name')
      .description('delete a key (asks, or needs --yes)'),
    makeContext,
    (_o, ctx, key) => keysDelete(key, ctx),
  );
  handle(
    keys
      .command('constrain')
      .argument('<key>', 'id or name')
      .description("add patterns to the key's ai_models_include / ai_models_exclude")
      .option('--include <regex>', 'allow (repeatable)', collect, [])
      .option('--exclude <regex>', 'refuse (repeatable)', collect, [])
      .option('--clear', 'drop the existing patterns first'),
    makeContext,
    (o, ctx, key) => keysConstrain(key, o, ctx),
  );
}
