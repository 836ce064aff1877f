/** `embctl cache stats|clear`: what the gateway's embedding cache holds and saves, and emptying it. */
import type { CacheReport } from '../../client/gateway-client.js';
import { confirmDestructive, handle, type MakeContext } from '../command.js';
import type { CliContext } from '../context.js';
import type { Column } from '../output.js';
import type { Root } from '../program.js';

type EntityLine = CacheReport['entities'][number];

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

const COLUMNS: Column<EntityLine>[] = [
  { header: 'entity', value: (e) => e.entity_id },
  { header: 'cache', value: (e) => (e.enabled ? 'on' : 'off') },
  { header: 'scope', value: (e) => e.scope ?? '' },
  { header: 'ttl', value: (e) => (e.ttl_s === null ? '' : `${e.ttl_s}s`) },
  { header: 'entries', value: (e) => e.entries.toLocaleString('en-US') },
  { header: 'vectors', value: (e) => megabytes(e.bytes) },
];

export async function cacheStats(options: { entity?: string }, ctx: CliContext): Promise<void> {
  const report = await (await ctx.client()).cacheStats(options.entity);
  const { out } = ctx;
  if (out.format !== 'table') {
    out.item(report);
    return;
  }
  out.list(report.entities, COLUMNS);
  const day = report.last_24h;
  const gateway = report.this_gateway;
  out.text(
    `store: ${report.totals.entries.toLocaleString('en-US')} entries, ${megabytes(report.totals.bytes)} of vectors ` +
      `(bounds: ${report.bounds.max_entries.toLocaleString('en-US')} entries, ${megabytes(report.bounds.max_bytes)})`,
  );
  out.text(
    `last 24 h: ${day.cached_inputs.toLocaleString('en-US')} of ${day.inputs.toLocaleString('en-US')} inputs from ` +
      `the cache (${(day.hit_rate * 100).toFixed(1)} %), ${day.tokens_saved.toLocaleString('en-US')} tokens and ` +
      `$${day.cost_saved_usd.toFixed(6)} saved`,
  );
  out.text(
    `gateway ${gateway.instance}: ${gateway.memory_entries.toLocaleString('en-US')} entries in memory ` +
      `(${megabytes(gateway.memory_bytes)} of ${megabytes(report.bounds.memory_bytes)}), ` +
      `${gateway.hits} hits, ${gateway.misses} misses since start`,
  );
  if (report.entities.length === 0)
    out.info('no entity uses the cache: turn it on with `embctl models update ID --cache on`');
}

export async function cacheClear(options: { entity?: string }, ctx: CliContext): Promise<void> {
  const what = options.entity ? `the cached embeddings of '${options.entity}'` : 'every cached embedding';
  await confirmDestructive(ctx, `delete ${what}`);
  const cleared = await (await ctx.client()).clearCache(options.entity);
  if (ctx.out.format === 'json') ctx.out.item(cleared);
  else ctx.out.success(`deleted ${cleared.deleted.toLocaleString('en-US')} cached embeddings`);
}

export function registerCacheCommands(program: Root, makeContext: MakeContext): void {
  const cache = program.command('cache').description("the gateway's per-input embedding cache");
  handle(
    cache
      .command('stats')
      .description('entries and bytes per entity, hit rate and savings over the last day')
      .option('--entity <id>', 'one entity only'),
    makeContext,
    (o, ctx) => cacheStats(o, ctx),
  );
  handle(
    cache
      .command('clear')
      .description('delete cached embeddings on every gateway of the store (asks, or needs --yes)')
      .option('--entity <id>', "only this entity's"),
    makeContext,
    (o, ctx) => cacheClear(o, ctx),
  );
}
