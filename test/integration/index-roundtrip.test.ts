/**
 * Each index target in-process, through the interface `embed`, `search` and `migrate` use: rows
 * appended come back in order with their metadata, text hashes and vector lengths; search ranks
 * the nearest first; count, size, remove. Native code on every Node the matrix runs (sqlite-vec,
 * LanceDB), in a few seconds.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { OutputRecord } from '../../src/cli/embed/runner.js';
import { contentHash, openTarget, type IndexMeta } from '../../src/cli/index/target.js';
import { float32ToJson } from '../../src/core/vectors.js';
import { tempDir } from '../helpers/cli.js';

const DIMS = 8;
const vectorFor = (i: number) => Float32Array.from({ length: DIMS }, (_, d) => (d === i % DIMS ? 1 : 0.01 * d));
const records: OutputRecord[] = Array.from({ length: 40 }, (_, i) => ({
  position: i,
  id: `r${i}`,
  text: `text ${i}`,
  embedding: float32ToJson(vectorFor(i)),
  metadata: { parity: i % 2 ? 'odd' : 'even' },
}));
const meta: IndexMeta = {
  format: 'embctl-embeddings',
  version: 1,
  model: 'test-model',
  requested_model: 'test',
  dimensions: DIMS,
  vector_format: 'float',
  text: true,
  records: 0,
  metadata_fields: ['parity'],
  created_at: '2026-12-02T00:00:00.000Z',
  updated_at: '2026-12-02T00:00:00.000Z',
  embctl_version: 'test',
};

describe.each([
  ['jsonl', (dir: string) => join(dir, 'index.jsonl')],
  ['sqlite', (dir: string) => `sqlite:${join(dir, 'index.db')}#docs`],
  ['lancedb', (dir: string) => `lancedb:${join(dir, 'lance')}#docs`],
])('the %s target', (_kind, specOf) => {
  it('gives back what was appended, searches it, counts and sizes it, removes it', async () => {
    const target = await openTarget(specOf(tempDir(`roundtrip-${_kind}`)));
    const writer = await target.open(undefined);
    writer.saveMeta(meta);
    await writer.append(records.slice(0, 25), true);
    await writer.append(records.slice(25), true);
    await writer.flush();
    writer.saveMeta({ ...meta, records: writer.records });
    await writer.close();

    const rows = [];
    for await (const row of target.rows()) rows.push(row);
    expect(rows.map((r) => r.id)).toEqual(records.map((r) => r.id));
    expect(rows[3]).toMatchObject({
      text: 'text 3',
      metadata: { parity: 'odd' },
      model: 'test-model',
      dimensions: DIMS,
    });
    expect(rows.every((r) => r.contentSha256 === null || r.contentSha256 === contentHash(r.text!))).toBe(true);
    expect(await target.count()).toBe(40);
    expect(await target.size()).toBeGreaterThan(0);

    const index = (await target.reader())!;
    const [hits] = await index.search([vectorFor(5)], { k: 3, where: { parity: 'odd' } });
    index.close();
    expect(hits![0]!.id).toBe('r5');
    expect(hits!.every((h) => h.metadata?.parity === 'odd')).toBe(true);

    target.remove();
    expect(target.meta()).toBeUndefined();
    expect(await target.count()).toBe(0);
  });
});
