/** The pure parts of `embed`: sources, chunking, dedup and batching, and the index file's repair. */
import { readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { countTextTokens } from '../../src/core/tokenizer.js';
import { chunk, plan, type Batch } from '../../src/cli/embed/batches.js';
import { DedupIndex } from '../../src/cli/embed/dedup.js';
import { IndexWriter } from '../../src/cli/index/jsonl.js';
import { allRecords, type InputRecord, type SourceOptions } from '../../src/cli/embed/sources.js';
import { tempDir } from '../helpers/cli.js';

const SOURCES: SourceOptions = { split: 'line', encoding: 'utf-8', textField: 'text', textColumn: 'text' };
const noStdin = Object.assign(Readable.from([]), { isTTY: true });

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

function file(name: string, content: string): string {
  const path = join(tempDir('sources'), name);
  writeFileSync(path, content);
  return path;
}

const read = (files: string[], options: Partial<SourceOptions> = {}) =>
  collect(allRecords({ texts: [], files, stdinFallback: false }, noStdin, { ...SOURCES, ...options }));

describe('sources', () => {
  it('text: one input per non-blank line, or per paragraph', async () => {
    const path = file('notes.txt', 'first\n\nsecond\nstill second\n\n\nthird\n');
    expect((await read([path])).map((r) => r.text)).toEqual(['first', 'second', 'still second', 'third']);
    const paragraphs = await read([path], { split: 'paragraph' });
    expect(paragraphs).toEqual([
      { id: `${path}:1`, text: 'first' },
      { id: `${path}:3`, text: 'second\nstill second' },
      { id: `${path}:7`, text: 'third' },
    ]);
  });

  it('JSONL and JSON with chosen fields', async () => {
    const jsonl = file('docs.jsonl', '{"doc":"a","body":"alpha"}\n\n{"doc":7,"body":"beta"}\n');
    expect(await read([jsonl], { textField: 'body', idField: 'doc' })).toEqual([
      { id: 'a', text: 'alpha' },
      { id: '7', text: 'beta' },
    ]);
    await expect(read([jsonl])).rejects.toThrow(/no non-empty string field 'text'/);
    const json = file('docs.json', JSON.stringify([{ text: 'one' }, 'two']));
    expect((await read([json])).map((r) => r.text)).toEqual(['one', 'two']);
  });

  it('CSV with quoted, multi-line fields; TSV', async () => {
    const csv = file('rows.csv', 'id,text\nr1,"hello, world"\nr2,"two\nlines"\n');
    expect(await read([csv], { idColumn: 'id' })).toEqual([
      { id: 'r1', text: 'hello, world' },
      { id: 'r2', text: 'two\nlines' },
    ]);
    await expect(read([csv], { textColumn: 'body' })).rejects.toThrow(/no column 'body'.*|choose it/);
    const tsv = file('rows.tsv', 'text\tlabel\ntab separated\tx\n');
    expect((await read([tsv])).map((r) => r.text)).toEqual(['tab separated']);
  });

  it('a missing file is an error naming it', async () => {
    await expect(read(['/nope/missing.txt'])).rejects.toThrow(/cannot read input file '\/nope\/missing.txt'/);
  });
});

describe('chunking', () => {
  it('splits long texts into overlapping token windows with suffixed ids', async () => {
    const text = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
    const pieces = [...chunk({ id: 'doc', text }, 40, 10)];
    expect(pieces.map((p) => p.id)).toEqual(pieces.map((_, i) => `doc#${i}`));
    expect(pieces.length).toBeGreaterThan(2);
    for (const piece of pieces) expect(countTextTokens(piece.text)).toBeLessThanOrEqual(40);
    expect([...chunk({ id: 'short', text: 'tiny' }, 40, 10)]).toEqual([{ id: 'short', text: 'tiny' }]);
  });
});

describe('planning', () => {
  async function batches(texts: string[], options = { batchSize: 3, maxBatchTokens: 1000 }): Promise<Batch[]> {
    async function* records(): AsyncGenerator<InputRecord> {
      for (const [i, text] of texts.entries()) yield { id: `r${i}`, text };
    }
    return collect(plan(records(), options, new DedupIndex()));
  }

  it('embeds identical texts once and points copies at the first', async () => {
    const planned = await batches(['a', 'b', 'a', 'c', 'b', 'd']);
    const all = planned.flatMap((b) => b.records);
    expect(all.map((r) => r.position)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(all.map((r) => r.copyOf)).toEqual([undefined, undefined, 0, undefined, 1, undefined]);
    expect(planned.flatMap((b) => b.unique.map((r) => r.text))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('bounds batches by input count and by tokens', async () => {
    expect((await batches(['1', '2', '3', '4', '5', '6', '7'])).map((b) => b.unique.length)).toEqual([3, 3, 1]);
    const long = 'word '.repeat(30);
    const byTokens = await batches([`${long}a`, `${long}b`, `${long}c`], { batchSize: 100, maxBatchTokens: 70 });
    expect(byTokens.map((b) => b.unique.length)).toEqual([2, 1]);
  });

  it('refuses an input over the model limit, suggesting --chunk-tokens', async () => {
    await expect(batches(['word '.repeat(9000)])).rejects.toThrow(/8192[\s\S]*/);
  });
});

describe('dedup index', () => {
  it('remembers the first position of every text across growth', () => {
    const index = new DedupIndex();
    for (let i = 0; i < 5000; i++) expect(index.firstOrRemember(`text ${i}`, i)).toBeUndefined();
    for (let i = 0; i < 5000; i++) expect(index.firstOrRemember(`text ${i}`, 10_000 + i)).toBe(i);
    expect(index.count).toBe(5000);
    expect(index.firstOrRemember('', 1)).toBeUndefined();
    expect(index.firstOrRemember('', 2)).toBe(1);
  });
});

describe('index file repair', () => {
  it('truncates to the checkpoint, dropping a partial tail, and reads vectors back', () => {
    const path = join(tempDir('index'), 'out.jsonl');
    const writer = new IndexWriter(path, undefined);
    const record = (position: number, id: string, vector: number[]) => ({
      position,
      id,
      text: '',
      embedding: JSON.stringify(vector),
    });
    writer.append([record(0, 'a', [1, 2]), record(1, 'é', [3, 4])], false);
    const checkpoint = writer.position;
    expect(checkpoint).toBe(Buffer.byteLength('{"id":"a","embedding":[1,2]}\n{"id":"é","embedding":[3,4]}\n'));
    writer.close();
    appendFileSync(path, '{"id":"c","embedding":[5,');
    const reopened = new IndexWriter(path, checkpoint);
    expect(reopened.records).toBe(2);
    expect(reopened.embeddingAt(1)).toBe('[3,4]');
    reopened.append([{ ...record(2, 'c', [5, 6]), metadata: { lang: 'fr' } }], true);
    reopened.close();
    expect(readFileSync(path, 'utf8').split('\n')[2]).toBe(
      '{"id":"c","text":"","metadata":{"lang":"fr"},"embedding":[5,6]}',
    );
    expect(
      readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).id),
    ).toEqual(['a', 'é', 'c']);
  });
});
