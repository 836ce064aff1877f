/** Runs `embctl` argv in-process: real commander parsing and handlers, a mocked transport, captured output. */
import { Readable } from 'node:stream';
import { MockAgent } from 'undici';
import { GatewayClient } from '../../src/client/gateway-client.js';
import { ProfileStore } from '../../src/cli/profiles.js';
import type { Prompter } from '../../src/cli/prompt.js';
import { run } from '../../src/cli/run.js';
import { tempDir } from './cli.js';

export const GW = 'http://gateway.test';

class Capture {
  text = '';
  constructor(readonly isTTY: boolean) {}
  write(chunk: string) {
    this.text += chunk;
    return true;
  }
}

/** Answers prompts in order and records what was asked. */
export function scriptedPrompter(answers: unknown[]): Prompter & { asked: string[] } {
  const asked: string[] = [];
  const next = async (message: string) => {
    asked.push(message);
    if (answers.length === 0) throw new Error(`no scripted answer for prompt '${message}'`);
    return answers.shift();
  };
  return {
    asked,
    input: async ({ message }) => (await next(message)) as string,
    secret: async ({ message }) => (await next(message)) as string,
    select: async ({ message }) => (await next(message)) as never,
    confirm: async ({ message }) => (await next(message)) as boolean,
  };
}

export interface InProcessOptions {
  agent?: MockAgent;
  env?: Record<string, string>;
  stdin?: string;
  tty?: boolean;
  prompter?: Prompter;
  profilesDir?: string;
}

export async function runInProcess(args: string[], options: InProcessOptions = {}) {
  const stdout = new Capture(options.tty ?? false);
  const stderr = new Capture(options.tty ?? false);
  const stdin = Object.assign(Readable.from(options.stdin === undefined ? [] : [options.stdin]), {
    isTTY: options.tty ?? false,
  });
  const profilesDir = options.profilesDir ?? tempDir('profiles');
  const env = {
    NO_COLOR: '1',
    EMBCTL_URL: GW,
    EMBCTL_API_KEY: 'emb_test',
    EMBCTL_ADMIN_TOKEN: 'embadm_test',
    ...options.env,
  };
  const code = await run(['node', 'embctl', ...args], {
    env,
    stdin,
    stdout,
    stderr,
    profiles: new ProfileStore(profilesDir),
    ...(options.prompter ? { prompt: options.prompter } : {}),
    client: (clientOptions) =>
      new GatewayClient({ ...clientOptions, dispatcher: options.agent ?? new MockAgent({ connections: 1 }) }),
  });
  return { code, stdout: stdout.text, stderr: stderr.text, profilesDir };
}

export function mockGateway(): { agent: MockAgent; pool: ReturnType<MockAgent['get']> } {
  const agent = new MockAgent();
  agent.disableNetConnect();
  return { agent, pool: agent.get(GW) };
}
