/**
 * OpenAI's Batch API for `/v1/embeddings`: `POST /v1/batches`, `GET /v1/batches/{id}`, `GET
 * /v1/batches` (cursor pagination), `POST /v1/batches/{id}/cancel`. Creation checks every line of
 * the input file before answering: a fault anywhere fails the batch, every bad line named in
 * `errors` and in an error file, before any token is spent. The gateway runs the job itself
 * (`batch-runner.ts`). A batch is seen only by the key that created it.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError, invalidRequest } from '../../core/errors.js';
import { randomId } from '../../core/secrets.js';
import { FileWriter } from '../../store/file-writer.js';
import type { StoredBatch } from '../../store/store.js';
import { authenticateConsumer } from '../auth.js';
import { loadBatchInput, MAX_LISTED_ERRORS } from '../batch-input.js';
import type { GatewayContext } from '../context.js';
import { cursorPage, pageLimit } from './cursor-page.js';

type IdParams = { Params: { id: string } };

const ENDPOINTS = new Set(['/v1/embeddings']);
const WINDOWS: Record<string, number> = { '24h': 86_400 };

export function batchObject(batch: StoredBatch) {
  const t = batch.times;
  return {
    id: batch.id,
    object: 'batch',
    endpoint: batch.endpoint,
    errors: batch.errors ? { object: 'list', data: batch.errors } : null,
    input_file_id: batch.input_file_id,
    completion_window: batch.completion_window,
    status: batch.status,
    output_file_id: batch.output_file_id,
    error_file_id: batch.error_file_id,
    created_at: batch.created_at,
    in_progress_at: t.in_progress_at ?? null,
    expires_at: batch.expires_at,
    finalizing_at: t.finalizing_at ?? null,
    completed_at: t.completed_at ?? null,
    failed_at: t.failed_at ?? null,
    expired_at: t.expired_at ?? null,
    cancelling_at: t.cancelling_at ?? null,
    cancelled_at: t.cancelled_at ?? null,
    request_counts: batch.request_counts,
    metadata: batch.metadata,
    // embctl's own: why the job waits (a limit of its key) or stopped; null while it simply runs.
    note: batch.note,
  };
}

const missing = (id: string) =>
  new ApiError('not_found', `No batch found with id '${id}'. \`GET /v1/batches\` lists the batches of this key.`, {
    code: 'batch_not_found',
  });

function metadataOf(value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  const ok =
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.keys(value).length <= 16 &&
    Object.entries(value).every(([k, v]) => k.length <= 64 && typeof v === 'string' && v.length <= 512);
  if (!ok)
    throw invalidRequest(
      "'metadata' must be at most 16 string pairs (keys ≤ 64 characters, values ≤ 512).",
      'metadata',
      'invalid_value',
    );
  return value as Record<string, string>;
}

export function registerBatchRoutes(app: FastifyInstance, ctx: GatewayContext, maxLineBytes: number): void {
  const { store } = ctx;
  const owned = async (headers: Parameters<typeof authenticateConsumer>[0], id: string) => {
    const key = await authenticateConsumer(headers, ctx.catalogue);
    const batch = await store.batches.get(id);
    if (!batch || batch.owner !== key.record.id) throw missing(id);
    return batch;
  };

  app.post('/v1/batches', async (req) => {
    const key = await authenticateConsumer(req.headers, ctx.catalogue);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const { input_file_id: fileId, endpoint, completion_window: window } = body;
    if (typeof endpoint !== 'string' || !ENDPOINTS.has(endpoint))
      throw invalidRequest(
        `'endpoint' must be "/v1/embeddings" (the only one this gateway runs); got ${JSON.stringify(endpoint ?? null)}.`,
        'endpoint',
        'invalid_value',
      );
    if (typeof window !== 'string' || WINDOWS[window] === undefined)
      throw invalidRequest(
        `'completion_window' must be "24h"; got ${JSON.stringify(window ?? null)}.`,
        'completion_window',
        'invalid_value',
      );
    if (typeof fileId !== 'string')
      throw invalidRequest("'input_file_id' is required.", 'input_file_id', 'missing_required_parameter');
    const file = await store.files.get(fileId);
    if (file?.status !== 'processed' || file.owner !== key.record.id)
      throw new ApiError(
        'not_found',
        `No such File object: '${fileId}'. Upload it with POST /v1/files (purpose "batch").`,
        {
          code: 'file_not_found',
          param: 'input_file_id',
        },
      );
    if (file.purpose !== 'batch')
      throw invalidRequest(
        `The file '${fileId}' has purpose '${file.purpose}', not "batch".`,
        'input_file_id',
        'invalid_value',
      );
    const now = Math.floor(Date.now() / 1000);
    const batch: StoredBatch = {
      id: randomId('batch_', 12),
      owner: key.record.id,
      status: 'validating',
      endpoint,
      input_file_id: fileId,
      completion_window: window,
      created_at: now,
      expires_at: now + WINDOWS[window]!,
      times: {},
      output_file_id: null,
      error_file_id: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata: metadataOf(body.metadata),
      errors: null,
      note: null,
    };
    await store.batches.create(batch);
    const { catalogue } = await ctx.catalogue.current();
    const checked = await loadBatchInput(store, batch.id, fileId, endpoint, key, catalogue, maxLineBytes);
    if (checked.errorCount > 0) {
      const more = checked.errorCount - checked.errors.length;
      const failed = await store.batches.update(batch.id, {
        status: 'failed',
        errors: checked.errors,
        note: `${checked.errorCount} of ${checked.lines} line(s) are not valid${more > 0 ? ` (the first ${MAX_LISTED_ERRORS} are listed)` : ''}; nothing was run.`,
        times: { failed_at: now },
        error_file_id: await writeErrorFile(ctx, batch, checked.errors),
      });
      return batchObject(failed!);
    }
    return batchObject(
      (await store.batches.update(batch.id, { status: 'in_progress', times: { in_progress_at: now } }))!,
    );
  });

  app.get<IdParams>('/v1/batches/:id', async (req) => batchObject(await owned(req.headers, req.params.id)));

  app.get<{ Querystring: { after?: string; limit?: string } }>('/v1/batches', async (req) => {
    const key = await authenticateConsumer(req.headers, ctx.catalogue);
    const limit = pageLimit(req.query.limit, 20, 100);
    const page = await store.batches.list({ owner: key.record.id, after: req.query.after, limit: limit + 1 });
    return cursorPage(page, limit, batchObject);
  });

  app.post<IdParams>('/v1/batches/:id/cancel', async (req) => {
    const batch = await owned(req.headers, req.params.id);
    const now = Math.floor(Date.now() / 1000);
    const cancelling = await store.batches.update(batch.id, { status: 'cancelling', times: { cancelling_at: now } }, [
      'validating',
      'in_progress',
    ]);
    if (cancelling) return batchObject(cancelling);
    if (batch.status === 'cancelling' || batch.status === 'cancelled') return batchObject(batch);
    throw new ApiError('conflict', `Batch '${batch.id}' is ${batch.status}: only a running batch can be cancelled.`, {
      code: 'batch_not_cancellable',
    });
  });
}

/** The validation errors as an error file: one line per bad input line, as OpenAI shapes them. */
async function writeErrorFile(ctx: GatewayContext, batch: StoredBatch, errors: StoredBatch['errors'] & object) {
  const id = randomId('file-', 12);
  const text = errors
    .map((e) =>
      JSON.stringify({
        id: randomId('batch_req_', 12),
        custom_id: null,
        response: null,
        error: { code: e.code, message: e.message, line: e.line, param: e.param },
      }),
    )
    .join('\n');
  const writer = await FileWriter.begin(ctx.store.files, {
    id,
    owner: batch.owner,
    filename: `${batch.id}_error.jsonl`,
    created_at: batch.created_at,
  });
  await writer.write(Buffer.from(`${text}\n`));
  await writer.finish({ purpose: 'batch_output', lines: errors.length, expires_at: batch.expires_at });
  return id;
}
