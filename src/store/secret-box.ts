/**
 * Upstream credentials sealed at rest with AES-256-GCM, so a copy of the database (a backup, a
 * shared volume) does not hand out provider tokens. The key is EMBCTL_SECRET_KEY (base64, 32 bytes:
 * what replicas sharing one store must all be given), else `secret.key` in the data dir, created
 * once with mode 0600. `${env:NAME}` references are stored as written: they hold no secret.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isEnvReference } from '../core/secrets.js';

const PREFIX = 'enc:v1:';
export const SECRET_KEY_FILE = 'secret.key';

export interface SecretBox {
  seal(plain: string): string;
  /** Throws `UnreadableSecret` when the value cannot be opened with this key. */
  open(stored: string): string;
}

export class UnreadableSecret extends Error {
  override name = 'UnreadableSecret';
}

/** Thrown when a shared store is opened without the key every replica must share. */
export class MissingSecretKey extends Error {
  override name = 'MissingSecretKey';
}

function decodeKey(text: string, source: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32)
    throw new Error(`${source} must hold 32 bytes, base64-encoded (e.g. \`openssl rand -base64 32\`)`);
  return key;
}

/**
 * Where the sealing key comes from: EMBCTL_SECRET_KEY, else `keyFile` (base64), else — for a store
 * private to one data dir — `secret.key` there, created on first use.
 */
export interface SecretKeySource {
  env: NodeJS.ProcessEnv;
  keyFile?: string;
  /** Undefined for a shared store: a key made up by one replica would be unreadable to the others. */
  dataDir?: string;
}

function loadKey({ env, keyFile, dataDir }: SecretKeySource): Buffer {
  if (env.EMBCTL_SECRET_KEY) return decodeKey(env.EMBCTL_SECRET_KEY, 'EMBCTL_SECRET_KEY');
  if (keyFile) return decodeKey(readFileSync(keyFile, 'utf8'), `--secret-key-file ${keyFile}`);
  if (dataDir === undefined)
    throw new MissingSecretKey(
      'a store shared by several gateways needs the key that seals upstream credentials, the same for all: set ' +
        'EMBCTL_SECRET_KEY or pass --secret-key-file (make one with `openssl rand -base64 32`)',
    );
  const path = join(dataDir, SECRET_KEY_FILE);
  // Written whole under a name of its own, then linked into place: created in place, the file was
  // empty for a moment, and a gateway starting beside this one read it so and refused to start.
  const made = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`;
  writeFileSync(made, randomBytes(32), { flag: 'wx', mode: 0o600 });
  try {
    linkSync(made, path);
  } catch (error) {
    // Another gateway on this data dir made it first: use theirs.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(made);
  }
  const key = readFileSync(path);
  if (key.length !== 32)
    throw new Error(`${path} is not a 32-byte key; restore it from a backup (sealed tokens cannot be read without it)`);
  return key;
}

export function openSecretBox(source: SecretKeySource): SecretBox {
  const key = loadKey(source);
  return {
    seal(plain) {
      // Never trust a prefix on input: a token that looks sealed is sealed like any other.
      if (isEnvReference(plain)) return plain;
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64');
    },
    open(stored) {
      if (!stored.startsWith(PREFIX)) return stored;
      const raw = Buffer.from(stored.slice(PREFIX.length), 'base64');
      try {
        if (raw.length < 28) throw new Error('too short');
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(12, 28));
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      } catch {
        throw new UnreadableSecret(
          'a stored credential cannot be decrypted: it is damaged, or the secret key differs from the one that ' +
            'sealed it (check EMBCTL_SECRET_KEY or secret.key)',
        );
      }
    },
  };
}
