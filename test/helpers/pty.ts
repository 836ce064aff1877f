/**
 * Runs a command under a real pseudo-terminal with util-linux's `script`, so prompts see a TTY on
 * stdin and stdout; the test answers them by writing keystrokes.
 */
import { spawn } from 'node:child_process';

export interface PtySession {
  /** Resolves once `text` has appeared in the output (ANSI escapes stripped). */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  send(keys: string): void;
  exited: Promise<number | null>;
  output(): string;
}

// eslint-disable-next-line no-control-regex
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences start with ESC.
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]|\u001b[()][A-Z0-9]|\r/g;

export function runInPty(command: string, env: Record<string, string>, cwd: string): PtySession {
  // `script` makes a terminal of 0 × 0 unless told: give it a real size, as a terminal window has.
  const child = spawn('script', ['-qfec', `stty cols 120 rows 40 && exec ${command}`, '/dev/null'], {
    env: { ...env, TERM: 'xterm-256color', COLUMNS: '120', LINES: '40' },
    cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let raw = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    raw += d.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const clean = () => raw.replace(ANSI, '');
  return {
    output: clean,
    exited,
    send: (keys) => void child.stdin.write(keys),
    waitFor: (text, timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!clean().includes(text)) return false;
          listeners.delete(listener);
          clearTimeout(timer);
          resolve();
          return true;
        };
        const listener = () => void check();
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`'${text}' did not appear within ${timeoutMs} ms; output so far:\n${clean()}`));
        }, timeoutMs);
        listeners.add(listener);
        check();
      }),
  };
}
