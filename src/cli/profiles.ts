/** Profiles: named gateway connections, in one conf-backed JSON file written with mode 0600. */
import Conf from 'conf';
import { redactSecret } from '../core/secrets.js';
import { defaultConfigDir } from './paths.js';

export interface Profile {
  url?: string;
  apiKey?: string;
  adminToken?: string;
  /** The pinned model `embed` and `search` use when --model is not given. */
  model?: string;
  /** Run the gateway in-process over `dataDir` instead of calling `url`. */
  embedded?: boolean;
  dataDir?: string;
}

interface ConfigFile {
  current?: string;
  profiles: Record<string, Profile>;
}

export const LOCAL_PROFILE = 'local';

export class ProfileStore {
  private readonly conf: Conf<ConfigFile>;

  constructor(dir: string = defaultConfigDir()) {
    this.conf = new Conf<ConfigFile>({
      cwd: dir,
      configName: 'config',
      projectSuffix: '',
      configFileMode: 0o600,
      defaults: { profiles: {} },
    });
  }

  get path(): string {
    return this.conf.path;
  }

  list(): [string, Profile][] {
    return Object.entries(this.conf.get('profiles'));
  }

  get(name: string): Profile | undefined {
    return this.conf.get('profiles')[name];
  }

  set(name: string, profile: Profile): void {
    this.conf.set('profiles', { ...this.conf.get('profiles'), [name]: profile });
  }

  remove(name: string): boolean {
    const { [name]: removed, ...rest } = this.conf.get('profiles');
    if (!removed) return false;
    this.conf.set('profiles', rest);
    if (this.current === name) this.conf.delete('current');
    return true;
  }

  /**
   * The profile that holds the credentials of the gateway over `dataDir`: `local` when free or
   * already that data dir's, else `local-2`, `local-3`, …: a second data dir never overwrites the
   * first one's credentials.
   */
  localProfileFor(dataDir: string): string {
    for (let n = 1; ; n++) {
      const name = n === 1 ? LOCAL_PROFILE : `${LOCAL_PROFILE}-${n}`;
      const profile = this.get(name);
      if (!profile || profile.dataDir === dataDir) return name;
    }
  }

  get current(): string | undefined {
    return this.conf.get('current');
  }

  set current(name: string | undefined) {
    if (name === undefined) this.conf.delete('current');
    else this.conf.set('current', name);
  }
}

/** A profile as shown to a person: secrets redacted. */
export function redactProfile(profile: Profile): Profile {
  return {
    ...profile,
    ...(profile.apiKey ? { apiKey: redactSecret(profile.apiKey) } : {}),
    ...(profile.adminToken ? { adminToken: redactSecret(profile.adminToken) } : {}),
  };
}
