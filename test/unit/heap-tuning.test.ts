/** The gateway's heap sizing, observed in a child process (V8 flags are process-wide). */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const MODULE = pathToFileURL(join(ROOT, 'dist', 'gateway', 'heap-tuning.js')).href;

/** New-space size in MB after allocation churn that makes V8 grow it, with the cap at `cap` MB (0: none). */
function newSpaceAfterChurn(cap: number): number {
  const script = `
    const { tuneHeap, youngGenerationBytes } = await import(${JSON.stringify(MODULE)});
    if (${cap}) tuneHeap(${cap});
    // A server's pattern: short bursts of allocation, the event loop turning between them.
    let keep = [];
    for (let tick = 0; tick < 300; tick++) {
      for (let i = 0; i < 10000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 20000) keep = []; }
      await new Promise((resolve) => setImmediate(resolve));
    }
    process.stdout.write(String(youngGenerationBytes() / 2 ** 20));`;
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
}

describe('tuneHeap', () => {
  it('stops V8 growing the young generation past the cap', () => {
    expect(newSpaceAfterChurn(0)).toBeGreaterThan(8); // V8 alone grows it (to 32 MB on 64-bit)
    expect(newSpaceAfterChurn(8)).toBeLessThanOrEqual(8);
  });
});
