/**
 * Loads an `embed --out` index for search: every vector into one contiguous Float32Array,
 * normalised so that a dot product is the cosine similarity. Streams the file line by line.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { CliError, ExitCode } from '../../core/errors.js';
import { base64ToFloat32 } from '../../core/vectors.js';
import { readMeta, type IndexMeta } from './index-file.js';

export interface LoadedIndex {
  meta: IndexMeta;
  ids: string[];
  texts: (string | undefined)[];
  /** Row i is vector i, unit length. */
  matrix: Float32Array;
  count: number;
}

export async function loadIndex(path: string): Promise<LoadedIndex> {
  if (!existsSync(path))
    throw new CliError(`no index at '${path}'`, ExitCode.notFound, 'make one with `embctl embed -f FILE --out PATH`');
  const meta = readMeta(path);
  if (!meta)
    throw new CliError(
      `${path} has no ${path}.meta.json, so the model that made it is unknown`,
      ExitCode.failure,
      'search only indexes written by `embctl embed --out`',
    );
  const dims = meta.dimensions;
  let matrix = new Float32Array(Math.max(1, meta.records) * dims);
  const ids: string[] = [];
  const texts: (string | undefined)[] = [];
  let line = 0;
  for await (const text of createInterface({
    input: createReadStream(path, { encoding: 'utf8' }),
    crlfDelay: Infinity,
  })) {
    line++;
    if (text === '') continue;
    let record: { id: string; text?: string; embedding: number[] | string };
    try {
      record = JSON.parse(text) as typeof record;
    } catch {
      throw new CliError(
        `${path}:${line} is not valid JSON`,
        ExitCode.failure,
        'a run that was killed leaves a partial last line: rerun the embed command to repair it',
      );
    }
    const vector = typeof record.embedding === 'string' ? base64ToFloat32(record.embedding) : record.embedding;
    if (vector.length !== dims)
      throw new CliError(`${path}:${line} has ${vector.length} dimensions, the index ${dims}`, ExitCode.failure);
    const row = ids.length;
    if ((row + 1) * dims > matrix.length) {
      const grown = new Float32Array(matrix.length * 2);
      grown.set(matrix);
      matrix = grown;
    }
    let norm = 0;
    for (let i = 0; i < dims; i++) norm += vector[i]! * vector[i]!;
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    const offset = row * dims;
    for (let i = 0; i < dims; i++) matrix[offset + i] = vector[i]! * scale;
    ids.push(record.id);
    texts.push(record.text);
  }
  return { meta, ids, texts, matrix, count: ids.length };
}

export interface Hit {
  rank: number;
  score: number;
  id: string;
  text?: string | undefined;
}

/** The k rows most similar to `query` (cosine), best first: one pass, a small sorted buffer. */
export function topK(index: LoadedIndex, query: Float32Array, k: number, minScore = Number.NEGATIVE_INFINITY): Hit[] {
  const dims = index.meta.dimensions;
  let norm = 0;
  for (let i = 0; i < dims; i++) norm += query[i]! * query[i]!;
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  const q = Float32Array.from(query, (v) => v * scale);
  const best: { row: number; score: number }[] = [];
  const { matrix } = index;
  for (let row = 0; row < index.count; row++) {
    let score = 0;
    const offset = row * dims;
    for (let i = 0; i < dims; i++) score += matrix[offset + i]! * q[i]!;
    if (score < minScore || (best.length === k && score <= best[k - 1]!.score)) continue;
    let at = best.length;
    while (at > 0 && best[at - 1]!.score < score) at--;
    best.splice(at, 0, { row, score });
    if (best.length > k) best.pop();
  }
  return best.map(({ row, score }, i) => ({ rank: i + 1, score, id: index.ids[row]!, text: index.texts[row] }));
}
