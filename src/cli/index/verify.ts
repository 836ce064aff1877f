/**
 * A migration's check before the cutover: the new index holds the source's records, in order, with
 * the same ids and content hashes, every vector from the new model with the expected dimensions.
 * Both indexes are streamed side by side, so memory stays flat whatever their size; one record
 * missing or added is recognised as such, rather than as every record after it differing.
 */
import { contentHash, type StoredRow } from './target.js';

export interface Discrepancy {
  /** Where in the source (or, for a record only the new index has, in the new index). */
  position: number;
  id: string;
  problem: string;
}

export interface Verification {
  sourceRows: number;
  targetRows: number;
  /** Rows whose content could be compared, by text or hash (a JSONL index without text keeps neither). */
  hashed: number;
  /** The first discrepancies, up to the limit asked for; `failures` counts them all. */
  problems: Discrepancy[];
  failures: number;
}

/** An async iterator with one row of look-ahead. */
class Peekable {
  private readonly iterator: AsyncIterator<StoredRow>;
  private buffer: StoredRow[] = [];
  private done = false;
  taken = 0;

  constructor(rows: AsyncIterable<StoredRow>) {
    this.iterator = rows[Symbol.asyncIterator]();
  }

  /** The row `ahead` places on (0: the current one), undefined past the end. */
  async peek(ahead = 0): Promise<StoredRow | undefined> {
    while (this.buffer.length <= ahead && !this.done) {
      const next = await this.iterator.next();
      if (next.done) this.done = true;
      else this.buffer.push(next.value);
    }
    return this.buffer[ahead];
  }

  take(): void {
    this.buffer.shift();
    this.taken++;
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}

export async function verifyMigration(
  source: AsyncIterable<StoredRow>,
  target: AsyncIterable<StoredRow>,
  expected: { model: string; dimensions: number },
  limit = 10,
): Promise<Verification> {
  const from = new Peekable(source);
  const to = new Peekable(target);
  const result: Verification = { sourceRows: 0, targetRows: 0, hashed: 0, problems: [], failures: 0 };
  const fail = (position: number, id: string, problem: string) => {
    result.failures++;
    if (result.problems.length < limit) result.problems.push({ position, id, problem });
  };
  try {
    for (;;) {
      const s = await from.peek();
      const t = await to.peek();
      if (!s && !t) break;
      if (s && !t) {
        fail(from.taken, s.id, 'missing from the new index');
        from.take();
      } else if (t && !s) {
        fail(to.taken, t.id, 'in the new index only');
        to.take();
      } else if (s!.id === t!.id) {
        checkRow(s!, t!, from.taken, expected, fail, result);
        from.take();
        to.take();
      } else if ((await from.peek(1))?.id === t!.id) {
        fail(from.taken, s!.id, 'missing from the new index');
        from.take();
      } else if ((await to.peek(1))?.id === s!.id) {
        fail(to.taken, t!.id, 'in the new index only');
        to.take();
      } else {
        fail(from.taken, s!.id, `the new index has '${t!.id}' in its place`);
        from.take();
        to.take();
      }
    }
  } finally {
    await from.close();
    await to.close();
  }
  result.sourceRows = from.taken;
  result.targetRows = to.taken;
  return result;
}

/** Whether two rows were embedded from the same text, by their texts or hashes; undefined when neither side can tell. */
function sameContent(s: StoredRow, t: StoredRow): boolean | undefined {
  if (s.text !== null && t.text !== null) return s.text === t.text;
  const hashOf = (row: StoredRow) => row.contentSha256 ?? (row.text === null ? null : contentHash(row.text));
  const [a, b] = [hashOf(s), hashOf(t)];
  return a && b ? a === b : undefined;
}

function checkRow(
  s: StoredRow,
  t: StoredRow,
  position: number,
  expected: { model: string; dimensions: number },
  fail: (position: number, id: string, problem: string) => void,
  result: Verification,
): void {
  const same = sameContent(s, t);
  if (same !== undefined) {
    result.hashed++;
    if (!same) fail(position, s.id, 'embedded from another text (content hash differs)');
  }
  if (t.model !== expected.model) fail(position, s.id, `its vector is from '${t.model}', not '${expected.model}'`);
  if (t.dimensions !== expected.dimensions)
    fail(position, s.id, `its vector has ${t.dimensions} dimensions, not ${expected.dimensions}`);
}
