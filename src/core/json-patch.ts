/**
 * JSON Patch (RFC 6902), as the reference gateway's admin API takes it on PATCH: an array of
 * operations applied in order by `fast-json-patch` (prototype changes refused), all or nothing.
 * A failing operation is named by its index, its op and its path.
 */
import jsonPatch, { type Operation } from 'fast-json-patch';
import { invalidRequest } from './errors.js';
import { ADMIN_LIMITS } from './limits.js';

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

function describe(op: unknown, index: number): string {
  const { op: name, path } = (op ?? {}) as { op?: unknown; path?: unknown };
  return `operation ${index} (${typeof name === 'string' ? name : '?'} ${typeof path === 'string' ? path : '?'})`;
}

export function applyJsonPatch(document: unknown, operations: unknown[]): unknown {
  if (operations.length > ADMIN_LIMITS.maxListItems)
    throw invalidRequest(
      `A JSON Patch may hold at most ${ADMIN_LIMITS.maxListItems} operations; this one has ${operations.length}.`,
      null,
      'invalid_patch',
    );
  operations.forEach((op, index) => {
    const { op: name, path } = (op ?? {}) as { op?: unknown; path?: unknown };
    if (typeof name !== 'string' || !OPS.has(name) || typeof path !== 'string')
      throw invalidRequest(
        `JSON Patch ${describe(op, index)} is not an operation: each needs "op" (one of ${[...OPS].join(', ')}) ` +
          'and "path" (a JSON Pointer such as /config/options/model).',
        null,
        'invalid_patch',
      );
  });
  try {
    return jsonPatch.applyPatch(jsonPatch.deepClone(document), operations as Operation[], true, true).newDocument;
  } catch (error) {
    const index = (error as { index?: number }).index ?? 0;
    const reason =
      (error as { name?: string }).name === 'TEST_OPERATION_FAILED'
        ? 'its test failed'
        : (error as Error).message.split('\n')[0];
    throw invalidRequest(
      `JSON Patch ${describe(operations[index], index)} cannot be applied: ${reason}. Nothing was changed.`,
      null,
      'invalid_patch',
    );
  }
}
