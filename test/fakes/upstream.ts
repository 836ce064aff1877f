/**
 * A fake upstream on 127.0.0.1: speaks one provider's wire format (see formats.ts), records every
 * request, and plays scripted faults (status, delay, reset, malformed body, wrong vector length).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  /** The body as received (what a signature covers). */
  raw: string;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One scripted behaviour, consumed by the next request; unscripted requests get the normal answer. */
export interface Fault {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait before answering (ms). */
  delayMs?: number;
  /** Destroy the socket without answering. */
  reset?: boolean;
  /** Answer 200 with this raw, non-JSON text. */
  raw?: string;
  /** Answer normally but with vectors of this length. */
  vectorLength?: number;
  /** Answer normally but say this model served it. */
  model?: string;
  /** Send the headers, then the body one byte every this many ms (a slow body). */
  dripMs?: number;
}

export interface WireFormat {
  name: string;
  /** Checks method, path and auth; returns an error reply in the provider's own shape, or undefined. */
  accept(req: Recorded): Reply | undefined | Promise<Reply | undefined>;
  /** The texts in a request body, in order. */
  texts(body: any): string[];
  maxBatch: number;
  /** The provider's own answer to a batch over its limit. */
  overLimit(count: number): Reply;
  /** The provider's success body for these vectors. */
  respond(vectors: number[][], req: Recorded): Reply;
  /** The provider's error body shape. */
  error(status: number, message: string): Reply;
}

/** Deterministic vectors: the test can compute what the gateway must return. */
export function fakeVector(text: string, dims = 8): number[] {
  const out: number[] = [];
  let h = 2166136261;
  for (let i = 0; i < dims; i++) {
    for (const ch of text) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
    h = Math.imul(h ^ i, 16777619);
    out.push(Math.fround(((h >>> 0) % 2000) / 1000 - 1));
  }
  return out;
}

export interface FakeUpstream {
  url: string;
  requests: Recorded[];
  script(...faults: Fault[]): void;
  /** Delay every unscripted answer by this much (a slow upstream). */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

/** `vector`: what the fake answers for one text of a request (default: `fakeVector(text, dims)`). */
export async function startFake(
  format: WireFormat,
  dims = 8,
  options: { vector?: (text: string, body: any) => number[] } = {},
): Promise<FakeUpstream> {
  const requests: Recorded[] = [];
  const faults: Fault[] = [];
  let delayMs = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const recorded: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, raw };
      requests.push(recorded);
      // Faults are for embedding calls: a client's GET (a model lookup) does not use one up.
      const fault = req.method === 'POST' ? faults.shift() : undefined;
      const send = (reply: Reply) => {
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
      };
      const answer = async () => {
        if (fault?.reset) return req.socket.destroy();
        if (fault?.dripMs) {
          res.writeHead(200, { 'content-type': 'application/json' });
          const body = '{"object":"list","data":[]}';
          let i = 0;
          const timer = setInterval(() => {
            if (res.destroyed || i >= body.length) {
              clearInterval(timer);
              res.end();
              return;
            }
            res.write(body[i++]);
          }, fault.dripMs);
          return;
        }
        if (fault?.raw !== undefined) {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(fault.raw);
        }
        if (fault?.status)
          return send({
            status: fault.status,
            body: fault.body ?? format.error(fault.status, `scripted ${fault.status}`).body,
            headers: fault.headers,
          });
        const refused = await format.accept(recorded);
        if (refused) return send(refused);
        const texts = format.texts(body);
        if (texts.length > format.maxBatch) return send(format.overLimit(texts.length));
        const reply = format.respond(
          texts.map((t) => {
            const text = typeof t === 'string' ? t : JSON.stringify(t);
            return options.vector && !fault?.vectorLength
              ? options.vector(text, body)
              : fakeVector(text, fault?.vectorLength ?? dims);
          }),
          recorded,
        );
        if (fault?.model) (reply.body as { model: string }).model = fault.model;
        send(reply);
      };
      const wait = fault?.delayMs ?? delayMs;
      if (wait) setTimeout(answer, wait);
      else void answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...more) => faults.push(...more),
    setDelay: (ms) => {
      delayMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
