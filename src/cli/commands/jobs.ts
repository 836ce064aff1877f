/**
 * `embctl jobs submit|list|get|wait|cancel|download`: embedding jobs the gateway runs itself
 * (OpenAI's Batch API). `submit` reads a corpus as `embed` does and uploads it as batch lines;
 * `download` writes the job's vectors into the same index `embed --out` writes.
 */
import { Option } from '@commander-js/extra-typings';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { BatchView, GatewayClient } from '../../client/gateway-client.js';
import { CliError, ExitCode, interruptedError, usageError } from '../../core/errors.js';
import { sleep } from '../../core/retry.js';
import { duration, handle, integer, type MakeContext } from '../command.js';
import type { CliContext } from '../context.js';
import { writableTarget } from '../index/target.js';
import { jobLine, outputRecords, UniqueIds, zippedRecords } from '../embed/job-lines.js';
import { serialize, VECTOR_FORMATS, type OutputRecord, type VectorFormat } from '../embed/runner.js';
import { FileSink } from '../embed/sinks.js';
import { inputRecords, withInputOptions, type InputOptions } from '../embed/source-options.js';
import type { Column } from '../output.js';
import type { Root } from '../program.js';
import { chooseModel } from './embed.js';

const TERMINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);
const POLL_MS = 500;
const WRITE_EVERY = 256;

const count = (n: number) => n.toLocaleString('en-US');
const isoTime = (s: number | null | undefined) => (s ? new Date(s * 1000).toISOString() : '');
const modelOf = (batch: BatchView) => batch.metadata?.model ?? '';

const COLUMNS: Column<BatchView>[] = [
  { header: 'id', value: (b) => b.id },
  { header: 'status', value: (b) => b.status },
  { header: 'done', value: (b) => `${count(b.request_counts.completed)}/${count(b.request_counts.total)}` },
  { header: 'failed', value: (b) => count(b.request_counts.failed) },
  { header: 'model', value: modelOf },
  { header: 'created', value: (b) => isoTime(b.created_at) },
  { header: 'note', value: (b) => (b.note && b.note.length > 60 ? `${b.note.slice(0, 59)}…` : (b.note ?? '')) },
];

const DETAIL: Column<BatchView>[] = [
  ...COLUMNS.slice(0, 5),
  { header: 'created', value: (b) => isoTime(b.created_at) },
  { header: 'finished', value: (b) => isoTime(b.completed_at) },
  { header: 'expires', value: (b) => isoTime(b.expires_at) },
  { header: 'input file', value: (b) => b.input_file_id },
  { header: 'output file', value: (b) => b.output_file_id ?? '' },
  { header: 'error file', value: (b) => b.error_file_id ?? '' },
  { header: 'note', value: (b) => b.note ?? '' },
  {
    header: 'errors',
    value: (b) =>
      (b.errors?.data ?? [])
        .slice(0, 5)
        .map((e) => `${e.line ? `line ${e.line}: ` : ''}${e.message}`)
        .join('\n'),
  },
];

export interface SubmitOptions extends InputOptions {
  model?: string;
  dimensions?: number;
  wait?: boolean;
  maxWait?: number;
}

/** The records as batch lines in a private temporary file; how many. */
async function writeJobFile(path: string, texts: string[], options: SubmitOptions, model: string, ctx: CliContext) {
  const signal = ctx.interrupted();
  const fd = openSync(path, 'wx', 0o600);
  const ids = new UniqueIds();
  let lines = 0;
  let pending = '';
  try {
    for await (const record of inputRecords(texts, options, ctx)) {
      if (signal.aborted) throw interruptedError('nothing was submitted');
      ids.check(record.id);
      pending += jobLine(record, { model, dimensions: options.dimensions });
      lines++;
      if (pending.length >= 1 << 20) {
        writeSync(fd, pending);
        pending = '';
      }
    }
    writeSync(fd, pending);
  } finally {
    closeSync(fd);
  }
  return lines;
}

/** What the job was made from, for `jobs list` (metadata values are at most 512 characters). */
function sourceOf(texts: string[], options: SubmitOptions): string {
  const named = options.files ? [options.files] : options.file.length ? options.file : ['arguments'];
  const text = texts.length && !options.file.length ? 'arguments' : named.join(', ');
  return text.length > 512 ? `${text.slice(0, 511)}…` : text;
}

export async function jobsSubmit(texts: string[], options: SubmitOptions, ctx: CliContext): Promise<void> {
  const client = await ctx.client();
  const { model } = await chooseModel(options.model, ctx, client);
  const dir = mkdtempSync(join(tmpdir(), 'embctl-job-'));
  let batch: BatchView;
  try {
    const path = join(dir, 'input.jsonl');
    const lines = await writeJobFile(path, texts, options, model, ctx);
    if (lines === 0) throw usageError('nothing to submit: the input holds no text');
    const name = options.file[0] && options.file[0] !== '-' ? basename(options.file[0]) : 'embctl';
    const file = await client.uploadFile(path, `${name}.batch.jsonl`);
    batch = await client.createBatch({
      input_file_id: file.id,
      metadata: {
        created_by: 'embctl jobs submit',
        model,
        source: sourceOf(texts, options),
        ...(options.dimensions ? { dimensions: String(options.dimensions) } : {}),
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (batch.status === 'failed') throw jobFailed(batch);
  const { out } = ctx;
  if (out.format === 'table') {
    out.text(batch.id);
    out.success(
      `submitted ${batch.id}: ${count(batch.request_counts.total)} input(s) for '${model}' (input file ` +
        `${batch.input_file_id}); the gateway runs it${options.wait ? '' : ` — follow it with \`embctl jobs wait ${batch.id}\``}`,
    );
  } else if (!options.wait) out.item(batch);
  if (options.wait) await jobsWait(batch.id, options, ctx);
}

function jobFailed(batch: BatchView): CliError {
  const errors = batch.errors?.data ?? [];
  const listed = errors
    .slice(0, 3)
    .map((e) => `${e.line ? `line ${e.line}: ` : ''}${e.message}`)
    .join('; ');
  return new CliError(
    `job ${batch.id} failed: ${batch.note ?? listed}${listed && batch.note ? ` (${listed})` : ''}`,
    ExitCode.failure,
    `\`embctl jobs get ${batch.id}\` shows its errors${batch.error_file_id ? `; \`embctl jobs download ${batch.id} --errors FILE\` writes them all` : ''}`,
  );
}

function progressBar(batch: BatchView, perSecond: number): string {
  const { total, completed, failed } = batch.request_counts;
  const done = completed + failed;
  const share = total ? done / total : 0;
  const width = 24;
  const filled = Math.round(share * width);
  const eta = perSecond > 0 ? ` · ${Math.ceil((total - done) / perSecond)} s left` : '';
  return (
    `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${Math.floor(share * 100)} % · ${count(done)}/${count(total)} ` +
    `lines${failed ? ` (${count(failed)} failed)` : ''}${perSecond > 0 ? ` · ${count(Math.round(perSecond))}/s` : ''}${eta}` +
    `${batch.note ? ` · ${batch.note}` : ''}`
  );
}

export async function jobsWait(id: string, options: { maxWait?: number }, ctx: CliContext): Promise<void> {
  const client = await ctx.client();
  const signal = ctx.interrupted();
  const spinner = await ctx.out.spinner(`job ${id}`);
  const started = Date.now();
  let first: { at: number; done: number } | undefined;
  let batch: BatchView;
  try {
    for (;;) {
      batch = await client.getBatch(id);
      if (TERMINAL.has(batch.status)) break;
      const done = batch.request_counts.completed + batch.request_counts.failed;
      first ??= { at: Date.now(), done };
      const perSecond = Date.now() > first.at ? ((done - first.done) * 1000) / (Date.now() - first.at) : 0;
      if (spinner) spinner.text = `${id} ${batch.status} ${progressBar(batch, perSecond)}`;
      if (options.maxWait !== undefined && Date.now() - started > options.maxWait)
        throw new CliError(
          `job ${id} is still ${batch.status} after ${Math.round(options.maxWait / 1000)} s ` +
            `(${count(done)} of ${count(batch.request_counts.total)} lines)`,
          ExitCode.failure,
          `it goes on in the gateway: wait again with \`embctl jobs wait ${id}\``,
        );
      await sleep(POLL_MS, signal);
      if (signal.aborted)
        throw interruptedError(
          `stopped waiting for ${id}; the job goes on in the gateway`,
          `wait again with \`embctl jobs wait ${id}\`, or stop it with \`embctl jobs cancel ${id}\``,
        );
    }
  } finally {
    spinner?.stop();
  }
  const { out } = ctx;
  if (out.format !== 'table') out.item(batch);
  const { total, completed, failed } = batch.request_counts;
  if (batch.status === 'completed' && failed === 0) {
    out.success(
      `${id} completed: ${count(completed)} line(s) embedded; write them with \`embctl jobs download ${id} --out INDEX\``,
    );
    return;
  }
  if (batch.status === 'failed' && completed === 0) throw jobFailed(batch);
  throw new CliError(
    `job ${id} ${batch.status}: ${count(completed)} of ${count(total)} line(s) embedded, ${count(failed)} failed` +
      `${batch.note ? ` (${batch.note})` : ''}`,
    ExitCode.failure,
    `\`embctl jobs download ${id} --out INDEX --partial\` writes what ran` +
      (batch.error_file_id ? `; --errors FILE writes why the others did not` : ''),
  );
}

export async function jobsList(options: { limit: number; after?: string }, ctx: CliContext): Promise<void> {
  const page = await (await ctx.client()).listBatches({ limit: options.limit, after: options.after });
  ctx.out.list(page.data, COLUMNS);
  if (page.has_more && ctx.out.format === 'table')
    ctx.out.info(`more: \`embctl jobs list --after ${page.data.at(-1)!.id}\``);
}

export async function jobsGet(id: string, ctx: CliContext): Promise<void> {
  const batch = await (await ctx.client()).getBatch(id);
  if (ctx.out.format === 'table') ctx.out.item(batch, DETAIL as Column<object>[]);
  else ctx.out.item(batch);
}

export async function jobsCancel(id: string, ctx: CliContext): Promise<void> {
  const batch = await (await ctx.client()).cancelBatch(id);
  if (ctx.out.format !== 'table') ctx.out.item(batch);
  ctx.out.success(
    batch.status === 'cancelled'
      ? `${id} is cancelled`
      : `cancelling ${id}: calls in flight finish, nothing more is sent; \`embctl jobs wait ${id}\` until it is cancelled`,
  );
}

export interface DownloadOptions {
  out?: string;
  force?: boolean;
  text: boolean;
  vectorFormat: VectorFormat;
  partial?: boolean;
  errors?: string;
}

/** The job's error file, written as it is. */
async function writeErrors(client: GatewayClient, batch: BatchView, path: string): Promise<number> {
  if (!batch.error_file_id) {
    writeFileSync(path, '', { mode: 0o600 });
    return 0;
  }
  const fd = openSync(path, 'w', 0o600);
  let lines = 0;
  try {
    for await (const line of client.fileLines(batch.error_file_id)) {
      writeSync(fd, `${line}\n`);
      lines++;
    }
  } finally {
    closeSync(fd);
  }
  return lines;
}

export async function jobsDownload(id: string, options: DownloadOptions, ctx: CliContext): Promise<void> {
  const { out: target } = options;
  if (!target && !options.errors) throw usageError('nothing to download', 'pass --out INDEX, --errors FILE, or both');
  const client = await ctx.client();
  const batch = await client.getBatch(id);
  if (!TERMINAL.has(batch.status))
    throw new CliError(
      `job ${id} is ${batch.status}: its files are written when it ends`,
      ExitCode.conflict,
      `wait for it with \`embctl jobs wait ${id}\``,
    );
  if (options.errors) {
    const lines = await writeErrors(client, batch, options.errors);
    ctx.out.success(`${count(lines)} error line(s) of ${id} in ${options.errors}`);
  }
  if (target) await downloadIndex(client, batch, target, options, ctx);
}

async function downloadIndex(
  client: GatewayClient,
  batch: BatchView,
  out: string,
  options: DownloadOptions,
  ctx: CliContext,
): Promise<void> {
  const { total, completed, failed } = batch.request_counts;
  if (completed < total && !options.partial)
    throw new CliError(
      `job ${batch.id} is ${batch.status} with ${count(completed)} of ${count(total)} line(s) embedded ` +
        `(${count(failed)} failed)`,
      ExitCode.failure,
      `pass --partial to write the lines that ran; \`embctl jobs get ${batch.id}\` says why the others did not`,
    );
  if (!batch.output_file_id)
    throw new CliError(
      `job ${batch.id} has no output: no line of it ran`,
      ExitCode.notFound,
      `see \`embctl jobs get ${batch.id}\``,
    );
  const { target, meta } = await writableTarget(out, options.force);
  if (options.force) target.remove();
  // A download of this job that was interrupted is written again from its first record.
  const fingerprint = createHash('sha256').update(`jobs download ${batch.id} text=${options.text}`).digest('hex');
  const checkpoint = target.checkpoint();
  const writer = await target.open(checkpoint?.fingerprint === fingerprint ? checkpoint.base_bytes : checkpoint?.bytes);
  const base = { records: writer.records, bytes: writer.position };
  const requestedDimensions = batch.metadata?.dimensions ? Number(batch.metadata.dimensions) : undefined;
  const skipped = { lines: 0 };
  const outputs = client.fileLines(batch.output_file_id);
  const records = options.text
    ? zippedRecords(client.fileLines(batch.input_file_id), outputs, skipped)
    : outputRecords(outputs);
  const signal = ctx.interrupted();
  let sink: FileSink | undefined;
  let written = 0;
  let shape: { model: string; dimensions: number } | undefined;
  try {
    let pending: OutputRecord[] = [];
    for await (const record of records) {
      if (signal.aborted)
        throw interruptedError(
          `${count(written)} record(s) written`,
          'rerun the same command: it writes the job again',
        );
      const { text: embedding, dimensions } = serialize(record.embedding, options.vectorFormat);
      if (!shape) {
        shape = { model: record.model, dimensions };
        sink = new FileSink(
          writer,
          meta,
          {
            name: out,
            requestedModel: modelOf(batch) || record.model,
            requestedDimensions,
            vectorFormat: options.vectorFormat,
            includeText: options.text,
            fingerprint,
            base,
            skipped: 0,
          },
          createHash('sha256'),
        );
        sink.begin(record.model, dimensions);
      } else if (record.model !== shape.model || dimensions !== shape.dimensions)
        throw new CliError(
          `job ${batch.id} holds ${dimensions}-dimension vectors from '${record.model}' (record '${record.id}') after ` +
            `${shape.dimensions}-dimension ones from '${shape.model}': vectors of two models cannot share an index`,
          ExitCode.failure,
          'pin a versioned model (--model entity/model) and submit again',
        );
      pending.push({ position: base.records + written++, id: record.id, text: record.text, embedding });
      if (pending.length >= WRITE_EVERY) {
        await sink!.write(pending);
        pending = [];
      }
    }
    if (pending.length) await sink!.write(pending);
  } finally {
    await sink?.finish();
    await writer.close();
  }
  const missing = skipped.lines || total - completed;
  ctx.out.success(
    `${count(written)} record(s) from ${batch.id} → ${shape?.dimensions}-dimension vectors from ${shape?.model} in ${out}` +
      (missing ? ` (${count(missing)} line(s) without a vector left out)` : ''),
  );
}

export function registerJobCommands(program: Root, makeContext: MakeContext): void {
  const jobs = program
    .command('jobs')
    .description("embedding jobs the gateway runs itself (OpenAI's Batch API), resumable across its restarts");
  handle(
    withInputOptions(jobs.command('submit'))
      .description('upload texts, files or a document tree as a batch job (read as `embed` reads them)')
      .argument('[text...]', 'texts to embed')
      .option('-m, --model <model>', "model (default: the profile's pinned model, or the only one served)")
      .option(
        '--dimensions <n>',
        'shorten vectors to n dimensions (models that support it)',
        integer('--dimensions', 1),
      )
      .option('--wait', 'wait for the job to end (as `jobs wait`)')
      .option(
        '--max-wait <duration>',
        'with --wait: give up waiting after this long, e.g. 30m (the job goes on)',
        duration('--max-wait'),
      ),
    makeContext,
    (o, ctx, texts) => jobsSubmit(texts, o, ctx),
  );
  handle(
    jobs
      .command('list')
      .description('jobs of this API key, newest first')
      .option('--limit <n>', 'jobs to show', integer('--limit', 1, 100), 20)
      .option('--after <id>', 'the page after this job'),
    makeContext,
    (o, ctx) => jobsList(o, ctx),
  );
  handle(
    jobs.command('get').description("a job's status, counts, files and errors").argument('<id>', 'job (batch) id'),
    makeContext,
    (_o, ctx, id) => jobsGet(id, ctx),
  );
  handle(
    jobs
      .command('wait')
      .description('wait for a job to end, with its progress on a terminal; exit 0 only if every line was embedded')
      .argument('<id>', 'job (batch) id')
      .option(
        '--max-wait <duration>',
        'give up waiting after this long, e.g. 30m (the job goes on)',
        duration('--max-wait'),
      ),
    makeContext,
    (o, ctx, id) => jobsWait(id, o, ctx),
  );
  handle(
    jobs
      .command('cancel')
      .description('stop a job: calls in flight finish, nothing more is sent')
      .argument('<id>', 'job (batch) id'),
    makeContext,
    (_o, ctx, id) => jobsCancel(id, ctx),
  );
  handle(
    jobs
      .command('download')
      .description("write a job's vectors into an index, as `embed --out` writes it (and its errors)")
      .argument('<id>', 'job (batch) id')
      .option(
        '-O, --out <path>',
        'the index to write, as embed --out: FILE.jsonl, sqlite:FILE.db#name or lancedb:DIR#name',
      )
      .option('--force', 'replace an --out made by another model instead of refusing')
      .option('--no-text', 'leave the text out of the records (the input file is then not read)')
      .addOption(
        new Option('--vector-format <format>', 'how vectors are written: float (numbers) or base64')
          .choices(VECTOR_FORMATS)
          .default('float' as const),
      )
      .option('--partial', 'write the lines that ran of a job that did not complete every line')
      .option('--errors <file>', "write the job's error file (one JSON line per failed line) here"),
    makeContext,
    (o, ctx, id) => jobsDownload(id, o, ctx),
  );
}
