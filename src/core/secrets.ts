/** Secret handling shared by gateway and CLI: redaction for every read path, hashing, comparison. */
import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';

const ENV_REFERENCE = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$/;

export function isEnvReference(value: string): boolean {
  return ENV_REFERENCE.test(value.trim());
}

/** `sk-…3f9a`: enough to tell two secrets apart, not enough to use one. `${env:X}` references are not secrets. */
export function redactSecret(secret: string, options: { whole?: boolean } = {}): string {
  if (options.whole) {
    if (isEnvReference(secret)) return secret.trim();
    // A key file or a secret of its own shape: its length says enough to tell two apart.
    return secret.length < 12 ? '…' : `…(${secret.length} characters)…${secret.slice(-4).replace(/\s/g, '')}`;
  }
  return secret
    .split(',')
    .map((part) => {
      const token = part.trim();
      if (token === '' || isEnvReference(token)) return token;
      if (token.length < 12) return '…';
      // Keep the type prefix (`emb_`, `embadm_`, `sk-`) so a redacted admin token is not taken for a key.
      const prefix = /^[A-Za-z]{1,8}[-_]/.exec(token)?.[0] ?? token.slice(0, 3);
      return `${prefix}…${token.slice(-4)}`;
    })
    .join(',');
}

/** True when `value` is what `redactSecret(original)` printed: a client sent back a redacted read. */
export function isRedactionOf(value: string, original: string, whole = false): boolean {
  return value.includes('…') && redactSecret(original, { whole }) === value;
}

/** The names `${env:NAME}` references in `value` point at. */
export function envReferencesIn(value: string): string[] {
  return value.split(',').flatMap((part) => {
    const match = ENV_REFERENCE.exec(part.trim());
    return match ? [match[1]!] : [];
  });
}

/**
 * Which environment variables an entity may read through `${env:NAME}`: the names an operator
 * lists (`--allow-env`, `*` as a wildcard), else by default the usual credential names
 * (`*_API_KEY`, `*_TOKEN`, `*_KEY`, `*_SECRET`, `*_PASSWORD`). Never the gateway's own `EMBCTL_*`.
 */
export type EnvAllowList = readonly string[];
export const DEFAULT_ENV_ALLOW: EnvAllowList = ['*_API_KEY', '*_TOKEN', '*_KEY', '*_SECRET', '*_PASSWORD'];

export function envNameAllowed(name: string, allow: EnvAllowList = DEFAULT_ENV_ALLOW): boolean {
  if (name.startsWith('EMBCTL_')) return false;
  return allow.some((glob) =>
    new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(name),
  );
}

/** Why `value` may not be stored: a reference to a variable outside the allow-list; undefined when fine. */
export function envReferenceRefusal(value: string, allow?: EnvAllowList): string | undefined {
  const refused = envReferencesIn(value).find((name) => !envNameAllowed(name, allow));
  if (refused === undefined) return undefined;
  return refused.startsWith('EMBCTL_')
    ? `\${env:${refused}} names one of the gateway's own settings, which entities can never read`
    : `\${env:${refused}} is not in the gateway's allow-list of variables ` +
        `(${(allow ?? DEFAULT_ENV_ALLOW).join(', ')}); start the gateway with --allow-env ${refused} to permit it`;
}

/**
 * Resolves `${env:NAME}` references at call time, so the store keeps the reference and the secret
 * stays in the environment. A missing variable is an error naming it, never an empty credential.
 */
export function resolveEnvReferences(
  value: string,
  env: NodeJS.ProcessEnv = process.env,
  allow?: EnvAllowList,
): string {
  return value
    .split(',')
    .map((part) => {
      const match = ENV_REFERENCE.exec(part.trim());
      if (!match) return part.trim();
      const refusal = envReferenceRefusal(part.trim(), allow);
      if (refusal) throw new Error(refusal);
      const resolved = env[match[1]!];
      if (resolved === undefined || resolved === '') {
        throw new Error(`environment variable ${match[1]} is not set (referenced as \${env:${match[1]}})`);
      }
      return resolved;
    })
    .join(',');
}

/** Keys and tokens are 256-bit random, so a fast SHA-256 is a sound at-rest hash (no dictionary to attack). */
export function hashSecret(secret: string): string {
  // The one-shot form: no Hash object per call (every request hashes its key).
  return hash('sha256', secret, 'hex');
}

/** Constant-time equality of a presented secret against a stored SHA-256 hex digest. */
export function secretMatchesHash(presented: string, storedHashHex: string): boolean {
  const presentedDigest = createHash('sha256').update(presented, 'utf8').digest();
  const stored = Buffer.from(storedHashHex, 'hex');
  return stored.length === presentedDigest.length && timingSafeEqual(presentedDigest, stored);
}

export function randomSecret(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

export function randomId(prefix: string, bytes = 8): string {
  return `${prefix}${randomBytes(bytes).toString('hex')}`;
}
