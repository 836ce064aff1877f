/** `embctl usage`: requests, errors, tokens and cost over a period, with a bar chart per day on a terminal. */
import { Option } from '@commander-js/extra-typings';
import { usageError } from '../../core/errors.js';
import { USAGE_GROUPS, type UsageRow } from '../../core/request-log.js';
import type { UsageReport } from '../../client/gateway-client.js';
import { handle, type MakeContext } from '../command.js';
import type { Root } from '../program.js';
import type { CliContext } from '../context.js';
import type { Column } from '../output.js';

export interface UsageOptions {
  since: string;
  until?: string;
  by: string;
  model?: string;
  key?: string;
  chart: 'tokens' | 'cost';
}

const BAR_WIDTH = 40;

/** Horizontal bars, one per day, scaled to the largest: the picture people look at first. */
export function barChart(rows: UsageRow[], metric: 'tokens' | 'cost', color: (text: string) => string): string[] {
  const value = (r: UsageRow) => (metric === 'tokens' ? r.prompt_tokens : r.cost_usd);
  const max = Math.max(...rows.map(value), 0);
  return rows.map((r) => {
    const v = value(r);
    const cells = max > 0 ? (v / max) * BAR_WIDTH : 0;
    const bar = '█'.repeat(Math.floor(cells)) + (cells % 1 >= 0.5 ? '▌' : '');
    const label = metric === 'tokens' ? v.toLocaleString('en-US') : `$${v.toFixed(4)}`;
    return `${r.day}  ${color(bar.padEnd(BAR_WIDTH))}  ${label}`;
  });
}

const money = (v: number) => `$${v.toFixed(6)}`;

export async function usage(options: UsageOptions, ctx: CliContext): Promise<void> {
  const groups = options.by.split(',').map((g) => g.trim());
  const bad = groups.filter((g) => !(USAGE_GROUPS as readonly string[]).includes(g));
  if (bad.length) throw usageError(`--by takes ${USAGE_GROUPS.join(', ')}; got '${bad.join(',')}'`);
  const client = await ctx.client();
  const query = { since: options.since, until: options.until, model: options.model, key: options.key };
  const report: UsageReport = await client.usage({ ...query, group_by: groups.join(',') });
  const { out } = ctx;
  if (out.format !== 'table') {
    out.item(report);
    return;
  }
  const columns: Column<UsageRow>[] = [
    ...groups.map((g) => ({ header: g, value: (r: UsageRow) => r[g as keyof UsageRow] ?? '' })),
    { header: 'requests', value: (r) => r.requests.toLocaleString('en-US') },
    { header: 'errors', value: (r) => r.errors.toLocaleString('en-US') },
    { header: 'inputs', value: (r) => r.inputs.toLocaleString('en-US') },
    { header: 'tokens', value: (r) => r.prompt_tokens.toLocaleString('en-US') },
    { header: 'cost', value: (r) => money(r.cost_usd) },
  ];
  const t = report.totals;
  // Only once the cache has answered something: a gateway without it keeps its usual table.
  if (t.cached_inputs > 0)
    columns.push(
      { header: 'cached', value: (r) => r.cached_inputs.toLocaleString('en-US') },
      { header: 'saved', value: (r) => money(r.cost_saved_usd) },
    );
  out.list(report.data, columns);
  out.text(
    `total: ${t.requests.toLocaleString('en-US')} requests, ${t.errors.toLocaleString('en-US')} errors, ` +
      `${t.prompt_tokens.toLocaleString('en-US')} tokens, ${money(t.cost_usd)} since ${report.since ?? 'the start'}`,
  );
  if (t.cached_inputs > 0)
    out.text(
      `cache: ${t.cached_inputs.toLocaleString('en-US')} of ${t.inputs.toLocaleString('en-US')} inputs answered ` +
        `without the upstream, ${t.cached_tokens.toLocaleString('en-US')} tokens and ${money(t.cost_saved_usd)} saved`,
    );
  const daily =
    groups.length === 1 && groups[0] === 'day' ? report.data : (await client.usage({ ...query, group_by: 'day' })).data;
  if (daily.length) {
    out.text(`\n${options.chart} per day`);
    for (const line of barChart(daily, options.chart, (text) => out.paintData('cyan', text))) out.text(line);
  }
}

export function registerUsageCommand(program: Root, makeContext: MakeContext): void {
  handle(
    program
      .command('usage')
      .description('requests, errors, tokens and cost, grouped, with a chart per day')
      .option('--since <when>', 'from this long ago (30d, 12h) or an ISO time', '30d')
      .option('--until <when>', 'until this long ago or an ISO time')
      .option('--by <groups>', `group by ${USAGE_GROUPS.join(', ')} (comma-separated)`, 'model')
      .option('--model <models>', 'only these requested models')
      .option('--key <keys>', 'only these API keys (id or name)')
      .addOption(
        new Option('--chart <metric>', 'chart tokens or cost per day')
          .choices(['tokens', 'cost'] as const)
          .default('tokens' as const),
      ),
    makeContext,
    (options, ctx) => usage(options, ctx),
  );
}
