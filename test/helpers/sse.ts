/** A minimal Server-Sent-Events client for tests: collects events, waits for one with a deadline. */
import http from 'node:http';

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

export interface SseClient {
  events: SseEvent[];
  comments: string[];
  waitFor(predicate: (events: SseEvent[]) => boolean, deadlineMs: number): Promise<void>;
  close(): void;
  ended: Promise<void>;
}

export function connectSse(url: string, headers: Record<string, string>): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const comments: string[] = [];
    const waiters = new Set<() => void>();
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`SSE status ${res.statusCode}`));
      let buffer = '';
      let ended!: () => void;
      const endedPromise = new Promise<void>((r) => (ended = r));
      res.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        let split: number;
        while ((split = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, split);
          buffer = buffer.slice(split + 2);
          const event: SseEvent = { data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) event.id = line.slice(4);
            else if (line.startsWith('event: ')) event.event = line.slice(7);
            else if (line.startsWith('data: ')) event.data += line.slice(6);
          }
          if (event.data) events.push(event);
        }
        for (const waiter of waiters) waiter();
      });
      res.on('end', ended);
      res.on('close', ended);
      resolve({
        events,
        comments,
        ended: endedPromise,
        close: () => req.destroy(),
        waitFor: (predicate, deadlineMs) =>
          new Promise<void>((done, fail) => {
            if (predicate(events)) return done();
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`no matching event within ${deadlineMs} ms; got ${events.length}`));
            }, deadlineMs);
            const check = () => {
              if (!predicate(events)) return;
              clearTimeout(timer);
              waiters.delete(check);
              done();
            };
            waiters.add(check);
          }),
      });
    });
    req.on('error', reject);
  });
}
