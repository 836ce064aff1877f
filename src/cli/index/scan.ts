/**
 * Search over a JSONL index: every vector loaded into one contiguous Float32Array, normalised so
 * that a dot product is the cosine similarity, and compared with each query in one pass. Streams
 * the file line by line; exact by construction.
 */
import { CliError, ExitCode } from '../../core/errors.js';
import { base64ToFloat32 } from '../../core/vectors.js';
import { jsonlRecords, readMeta } from './jsonl.js';
import type { Hit, IndexMeta, SearchableIndex, SearchQuery } from './target.js';

/** `vector` scaled to unit length (a zero vector stays zero). */
export function unit(vector: ArrayLike<number>): Float32Array {
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i]! * vector[i]!;
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  return Float32Array.from(vector, (v) => v * scale);
}

/** Whether `metadata` holds every field = value pair of `where` (values compared as text). */
export function matchesWhere(metadata: Record<string, unknown> | undefined, where: Record<string, string>): boolean {
  for (const [field, value] of Object.entries(where)) {
    const held = metadata?.[field];
    if (held === undefined || held === null || String(held) !== value) return false;
  }
  return true;
}

/** Keeps the best `k` of the scores offered, best first. */
export class TopK {
  private readonly best: { row: number; score: number }[] = [];
  constructor(
    private readonly k: number,
    private readonly minScore = Number.NEGATIVE_INFINITY,
  ) {}

  offer(row: number, score: number): void {
    const { best, k } = this;
    if (score < this.minScore || (best.length === k && score <= best[k - 1]!.score)) return;
    let at = best.length;
    while (at > 0 && best[at - 1]!.score < score) at--;
    best.splice(at, 0, { row, score });
    if (best.length > k) best.pop();
  }

  rows(): { row: number; score: number }[] {
    return this.best;
  }
}

class LoadedIndex implements SearchableIndex {
  constructor(
    readonly meta: IndexMeta,
    private readonly ids: string[],
    private readonly texts: (string | undefined)[],
    private readonly metadata: (Record<string, unknown> | undefined)[],
    /** Row i is vector i, unit length. */
    private readonly matrix: Float32Array,
  ) {}

  get count(): number {
    return this.ids.length;
  }

  async search(queries: Float32Array[], query: SearchQuery): Promise<Hit[][]> {
    const dims = this.meta.dimensions;
    return queries.map((vector) => {
      const q = unit(vector);
      const top = new TopK(query.k, query.minScore);
      for (let row = 0; row < this.count; row++) {
        if (query.where && !matchesWhere(this.metadata[row], query.where)) continue;
        let score = 0;
        const offset = row * dims;
        for (let i = 0; i < dims; i++) score += this.matrix[offset + i]! * q[i]!;
        top.offer(row, score);
      }
      return top.rows().map(({ row, score }, i) => ({
        rank: i + 1,
        score,
        id: this.ids[row]!,
        text: this.texts[row],
        ...(this.metadata[row] ? { metadata: this.metadata[row] } : {}),
      }));
    });
  }

  close(): void {}
}

export async function loadIndex(path: string): Promise<SearchableIndex> {
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
  const metadata: (Record<string, unknown> | undefined)[] = [];
  for await (const { line, record } of jsonlRecords(path)) {
    const vector = typeof record.embedding === 'string' ? base64ToFloat32(record.embedding) : record.embedding;
    if (vector.length !== dims)
      throw new CliError(`${path}:${line} has ${vector.length} dimensions, the index ${dims}`, ExitCode.failure);
    const row = ids.length;
    if ((row + 1) * dims > matrix.length) {
      const grown = new Float32Array(matrix.length * 2);
      grown.set(matrix);
      matrix = grown;
    }
    matrix.set(unit(vector), row * dims);
    ids.push(record.id);
    texts.push(record.text);
    metadata.push(record.metadata);
  }
  return new LoadedIndex(meta, ids, texts, metadata, matrix);
}
