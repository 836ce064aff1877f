/** Optimistic concurrency for admin writes: an ETag per stored version, `If-Match` checked on write. */
import { ApiError } from '../core/errors.js';

export const etagOf = (version: number): string => `"v${version}"`;

/**
 * The version `If-Match` requires, undefined when the header is absent or `*`. A value that names
 * no version of ours can never match, so it is refused as stale rather than ignored.
 */
export function expectedVersion(ifMatch: string | string[] | undefined, currentVersion: number): number | undefined {
  const header = Array.isArray(ifMatch) ? ifMatch.join(',') : ifMatch;
  if (!header || header.trim() === '*') return undefined;
  const tags = header.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
  if (tags.includes(etagOf(currentVersion))) return currentVersion;
  throw new ApiError(
    'precondition_failed',
    `If-Match ${header} does not match the current version ${etagOf(currentVersion)}: it was changed since you read ` +
      `it. Read it again, reapply your change, and retry.`,
    {
      code: 'etag_mismatch',
    },
  );
}
