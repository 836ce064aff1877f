/**
 * A batch's input file, read line by line from the store and checked whole before anything runs:
 * each line a JSON object with a unique `custom_id`, `method: POST`, the batch's `url`, and a body
 * that `/v1/embeddings` would accept for this key (valid, a model it may use). Lines are added to
 * the batch in slices as they pass; any fault fails the batch with every bad line named.
 */
import { parseEmbeddingsRequest } from '../core/embeddings-request.js';
import { ApiError } from '../core/errors.js';
import type { BatchError, BatchItem, Store } from '../store/store.js';
import type { KnownKey } from './catalogue.js';
import { JsonlSplitter } from './file-upload.js';
import { routeRequest, type Catalogue } from './router.js';

const SLICE = 1000;
/** Errors kept for the batch object and its error file; the count of the rest is said. */
export const MAX_LISTED_ERRORS = 1000;
const MAX_CUSTOM_ID = 512;

function lineError(line: number, code: string, message: string, param: string | null = null): BatchError {
  return { code, message, param, line };
}

function checkLine(
  text: string,
  line: number,
  endpoint: string,
  seen: Set<string>,
  key: KnownKey,
  catalogue: Catalogue,
) {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return lineError(line, 'invalid_json', `Line ${line} is not JSON.`);
  }
  const { custom_id: id, method, url, body } = value;
  if (typeof id !== 'string' || id === '' || id.length > MAX_CUSTOM_ID)
    return lineError(
      line,
      'invalid_custom_id',
      `Line ${line} needs a custom_id: a string of 1 to ${MAX_CUSTOM_ID} characters.`,
      'custom_id',
    );
  if (seen.has(id))
    return lineError(line, 'duplicate_custom_id', `Line ${line} repeats the custom_id '${id}'.`, 'custom_id');
  seen.add(id);
  if (method !== 'POST') return lineError(line, 'invalid_method', `Line ${line}: method must be "POST".`, 'method');
  if (url !== endpoint)
    return lineError(line, 'mismatched_url', `Line ${line}: url must be the batch's endpoint, "${endpoint}".`, 'url');
  try {
    const request = parseEmbeddingsRequest(body);
    routeRequest(catalogue, request.model, key.constraints);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return lineError(
      line,
      error.code ?? 'invalid_request',
      `Line ${line}: ${error.message}`,
      error.param ? `body.${error.param}` : 'body',
    );
  }
  return { line, custom_id: id, body: JSON.stringify(body) } satisfies BatchItem;
}

/** Adds the file's lines to the batch; the errors found (at most MAX_LISTED_ERRORS) and how many in all. */
export async function loadBatchInput(
  store: Store,
  batchId: string,
  fileId: string,
  endpoint: string,
  key: KnownKey,
  catalogue: Catalogue,
  maxLineBytes: number,
): Promise<{ errors: BatchError[]; errorCount: number; lines: number }> {
  const errors: BatchError[] = [];
  let errorCount = 0;
  let slice: BatchItem[] = [];
  let lines = 0;
  const seen = new Set<string>();
  const splitter = new JsonlSplitter(maxLineBytes, (text, line) => {
    lines++;
    const checked = checkLine(text, line, endpoint, seen, key, catalogue);
    if ('code' in checked) {
      errorCount++;
      if (errors.length < MAX_LISTED_ERRORS) errors.push(checked);
    } else if (errorCount === 0) slice.push(checked);
  });
  const flush = async () => {
    if (slice.length === 0 || errorCount > 0) return;
    await store.batches.addItems(batchId, slice);
    slice = [];
  };
  for await (const chunk of store.files.chunks(fileId)) {
    splitter.push(chunk);
    if (slice.length >= SLICE) await flush();
  }
  splitter.end();
  await flush();
  if (errorCount > 0) await store.batches.dropItems(batchId);
  return { errors, errorCount, lines };
}
