import { describe, expect, it } from 'vitest';
import { resolveSettings, type GlobalOptions } from '../../src/cli/context.js';
import { ProfileStore } from '../../src/cli/profiles.js';
import { tempDir } from '../helpers/cli.js';

const base: GlobalOptions = { color: false, quiet: false, verbose: false, yes: false };

function store() {
  const profiles = new ProfileStore(tempDir('settings'));
  profiles.set('current', {
    url: 'http://current:1',
    apiKey: 'emb_current',
    adminToken: 'embadm_current',
    model: 'm-current',
  });
  profiles.set('other', { url: 'http://other:1', apiKey: 'emb_other' });
  profiles.current = 'current';
  return profiles;
}

describe('settings precedence: flag → environment → --profile → current profile', () => {
  it('uses the current profile when nothing else is given', () => {
    expect(resolveSettings(base, {}, store())).toMatchObject({
      profileName: 'current',
      url: 'http://current:1',
      apiKey: 'emb_current',
      model: 'm-current',
      embedded: false,
    });
  });

  it('--profile (or EMBCTL_PROFILE) selects another profile', () => {
    expect(resolveSettings({ ...base, profile: 'other' }, {}, store())).toMatchObject({
      url: 'http://other:1',
      apiKey: 'emb_other',
      adminToken: undefined,
    });
    expect(resolveSettings(base, { EMBCTL_PROFILE: 'other' }, store()).url).toBe('http://other:1');
    expect(resolveSettings({ ...base, profile: 'current' }, { EMBCTL_PROFILE: 'other' }, store()).url).toBe(
      'http://current:1',
    );
  });

  it('environment beats any profile', () => {
    const env = { EMBCTL_URL: 'http://env:1', EMBCTL_API_KEY: 'emb_env', EMBCTL_ADMIN_TOKEN: 'embadm_env' };
    expect(resolveSettings({ ...base, profile: 'other' }, env, store())).toMatchObject({
      url: 'http://env:1',
      apiKey: 'emb_env',
      adminToken: 'embadm_env',
    });
  });

  it('flags beat the environment', () => {
    const env = { EMBCTL_URL: 'http://env:1', EMBCTL_API_KEY: 'emb_env' };
    expect(resolveSettings({ ...base, url: 'http://flag:1', apiKey: 'emb_flag' }, env, store())).toMatchObject({
      url: 'http://flag:1',
      apiKey: 'emb_flag',
    });
  });

  it('an unknown --profile is a usage error', () => {
    expect(() => resolveSettings({ ...base, profile: 'nope' }, {}, store())).toThrow(/no profile named 'nope'/);
  });

  it('with nothing configured anywhere, runs the gateway embedded', () => {
    const settings = resolveSettings(base, { EMBCTL_DATA_DIR: '/tmp/x' }, new ProfileStore(tempDir('empty')));
    expect(settings).toMatchObject({ embedded: true, url: undefined, dataDir: '/tmp/x' });
  });
});
