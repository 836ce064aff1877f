import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSecretBox, SECRET_KEY_FILE } from '../../src/store/secret-box.js';

const dir = () => mkdtempSync(join(tmpdir(), 'embctl-box-'));

describe('secret box', () => {
  it('seals and opens, with a fresh IV each time, and a 0600 key file', () => {
    const data = dir();
    const box = openSecretBox({ dataDir: data, env: {} });
    const a = box.seal('sk-secret-token');
    expect(a).toMatch(/^enc:v1:/);
    expect(a).not.toContain('sk-secret');
    expect(box.seal('sk-secret-token')).not.toBe(a);
    expect(box.open(a)).toBe('sk-secret-token');
    expect(statSync(join(data, SECRET_KEY_FILE)).mode & 0o777).toBe(0o600);
    // A second process on the same data dir reads the same key.
    expect(openSecretBox({ dataDir: data, env: {} }).open(a)).toBe('sk-secret-token');
  });

  it('leaves ${env:NAME} references alone, and never trusts a prefix: a sealed-looking value is sealed again', () => {
    const box = openSecretBox({ dataDir: dir(), env: {} });
    expect(box.seal('${env:OPENAI_API_KEY}')).toBe('${env:OPENAI_API_KEY}');
    const sealed = box.seal('x');
    expect(box.seal(sealed)).not.toBe(sealed);
    expect(box.open(box.seal(sealed))).toBe(sealed);
    expect(box.open(box.seal('enc:v1:AAAA'))).toBe('enc:v1:AAAA');
    expect(() => box.open('enc:v1:AAAA')).toThrow(/cannot be decrypted/);
    expect(box.open('plain-legacy-value')).toBe('plain-legacy-value');
  });

  it('refuses to open with another key, saying why', () => {
    const sealed = openSecretBox({ dataDir: dir(), env: {} }).seal('token');
    expect(() => openSecretBox({ dataDir: dir(), env: {} }).open(sealed)).toThrow(/secret key differs/);
  });

  it('takes the key from EMBCTL_SECRET_KEY, checking its size', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const data = dir();
    const sealed = openSecretBox({ dataDir: data, env: { EMBCTL_SECRET_KEY: key } }).seal('t');
    expect(openSecretBox({ dataDir: dir(), env: { EMBCTL_SECRET_KEY: key } }).open(sealed)).toBe('t');
    expect(() => readFileSync(join(data, SECRET_KEY_FILE))).toThrow();
    expect(() => openSecretBox({ dataDir: dir(), env: { EMBCTL_SECRET_KEY: 'short' } })).toThrow(/32 bytes/);
  });
});
