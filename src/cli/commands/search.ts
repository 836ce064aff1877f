import { CliError, ExitCode, usageError } from '../../core/errors.js';
import { base64ToFloat32 } from '../../core/vectors.js';
import { collect, handle, integer, type MakeContext } from '../command.js';
import type { Root } from '../program.js';
import type { CliContext } from '../context.js';
import { openTarget, type Hit } from '../index/target.js';
import { aliasRegistry, resolveIndex } from '../index/aliases.js';
import type { Column } from '../output.js';

export interface SearchOptions {
  index: string;
  k: number;
  model?: string;
  minScore?: number;
  where: string[];
  exact?: boolean;
}

/** `--where field=value` pairs, every one a record must match. */
function whereOf(pairs: string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  const where: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0)
      throw usageError(`--where takes field=value; got '${pair}'`, 'e.g. --where lang=en --where team=search');
    where[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return where;
}

const COLUMNS: Column<Hit>[] = [
  { header: '#', value: (h) => h.rank },
  { header: 'score', value: (h) => h.score.toFixed(4) },
  { header: 'id', value: (h) => h.id },
  { header: 'text', value: (h) => (h.text && h.text.length > 80 ? `${h.text.slice(0, 79)}…` : (h.text ?? '')) },
];

export async function search(queries: string[], options: SearchOptions, ctx: CliContext): Promise<void> {
  if (queries.length === 0 || queries.some((q) => q.trim() === ''))
    throw usageError('give a non-empty query', 'embctl search "what to look for" --index vectors.jsonl');
  const where = whereOf(options.where);
  const loadStarted = performance.now();
  // Resolved once: a cutover that lands while this query runs does not change what it reads.
  const { spec } = resolveIndex(options.index, aliasRegistry(ctx.env));
  const index = await (await openTarget(spec)).reader();
  if (!index)
    throw new CliError(
      `no index at '${options.index}'`,
      ExitCode.notFound,
      'make one with `embctl embed -f FILE --out PATH` (PATH, sqlite:FILE.db#name)',
    );
  const loadMs = performance.now() - loadStarted;
  const { meta } = index;
  if (options.model && options.model !== meta.requested_model && options.model !== meta.model) {
    throw new CliError(
      `${options.index} was made with '${meta.model}' (asked as '${meta.requested_model}'); a query embedded with ` +
        `'${options.model}' would be compared across vector spaces`,
      ExitCode.usage,
      'drop --model: the index says which model to use',
    );
  }
  const client = await ctx.client();
  const response = await client.embeddings({
    model: meta.requested_model,
    input: queries,
    encoding_format: 'base64',
    ...(meta.requested_dimensions ? { dimensions: meta.requested_dimensions } : {}),
  });
  if (response.model !== meta.model) {
    throw new CliError(
      `the query was embedded by '${response.model}', the index by '${meta.model}': scores across two models mean ` +
        `nothing`,
      ExitCode.failure,
      `check the routing of '${meta.requested_model}' on the gateway`,
    );
  }
  const vectors = response.data.map((item) => {
    const vector =
      typeof item.embedding === 'string' ? base64ToFloat32(item.embedding) : Float32Array.from(item.embedding);
    if (vector.length !== meta.dimensions)
      throw new CliError(
        `the query vector has ${vector.length} dimensions, the index ${meta.dimensions}`,
        ExitCode.failure,
      );
    return vector;
  });
  const searchStarted = performance.now();
  const found = await index.search(vectors, { k: options.k, minScore: options.minScore, where, exact: options.exact });
  index.close();
  const results = found.map((hits, i) => ({ query: queries[i]!, hits }));
  const searchMs = performance.now() - searchStarted;

  for (const result of results) {
    if (ctx.out.format === 'table') {
      if (results.length > 1) ctx.out.text(`query: ${result.query}`);
      ctx.out.list(result.hits, COLUMNS);
    }
  }
  if (ctx.out.format !== 'table') {
    ctx.out.records(results.length === 1 ? results[0]!.hits : results, false);
  }
  ctx.out.info(
    `${index.count.toLocaleString('en-US')} vectors of ${meta.dimensions} dimensions (${meta.model}): loaded in ` +
      `${Math.round(loadMs)} ms, searched in ${searchMs.toFixed(1)} ms`,
  );
}

export function registerSearchCommand(program: Root, makeContext: MakeContext): void {
  handle(
    program
      .command('search')
      .description('find the records of an `embed --out` index most similar to a query (cosine)')
      .argument('<query...>', 'what to look for (several queries: one result list each)')
      .requiredOption(
        '-i, --index <path>',
        'the index written by `embctl embed --out` (FILE.jsonl, sqlite:FILE.db[#collection], lancedb:DIR[#table]) or an alias of one',
      )
      .option('-k, --k <n>', 'how many results', integer('-k', 1, 10_000), 10)
      .option('-m, --model <model>', 'refuse unless the index was made with this model')
      .option('--min-score <score>', 'drop results below this cosine similarity', (v) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n < -1 || n > 1)
          throw usageError(`--min-score must be between -1 and 1; got '${v}'`);
        return n;
      })
      .option(
        '--where <field=value>',
        'only records whose metadata field has this value (repeatable: all must hold)',
        collect,
        [],
      )
      .option('--exact', 'compare with every vector, even where the index has a faster approximate search'),
    makeContext,
    (options, ctx, queries) => search(queries, options, ctx),
  );
}
