/** A PostgreSQL URL made safe to show; apart from `pool.ts` so that the CLI can use it without loading `pg`. */

/** The URL as shown in `gateway status`, logs and errors: never the password. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    parsed.search = '';
    return parsed.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}
