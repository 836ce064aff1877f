/** One exchange on undici's dispatcher API, against a real node:http server. */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange } from '../../src/gateway/upstream-exchange.js';

const BIG = 32 * 1024 * 1024;
let server: http.Server;
let base: string;
let pool: Agent;
/** The server side of the last /big answer, to see whether the client reads it. */
let bigResponse: http.ServerResponse | undefined;
let closedSockets = 0;

class Deadline extends EventEmitter {
  aborted = false;
  reason: unknown;
  fire(reason: Error) {
    this.aborted = true;
    this.reason = reason;
    this.emit('abort', reason);
  }
}

const send = (path: string, abortOn = new Deadline()) =>
  exchange(
    pool,
    { method: 'POST', url: `${base}${path}`, headers: { 'content-type': 'application/json' }, body: '{"input":"x"}' },
    { timeout: 10_000, abortOn },
  );

const readAll = async (path: string, limit = BIG * 2) => {
  const answer = await send(path);
  const chunks: Buffer[] = [];
  const whole = await answer.read(limit, (chunk) => chunks.push(chunk));
  return { answer, whole, text: Buffer.concat(chunks).toString() };
};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/hints') res.writeEarlyHints({ link: '</style.css>; rel=preload' });
      if (req.url === '/big') {
        bigResponse = res;
        res.writeHead(200, { 'content-length': BIG });
        res.end(Buffer.alloc(BIG, 'a'));
      } else if (req.url === '/never') {
        // no answer: the deadline has to end it
      } else res.writeHead(201, { 'x-answer': 'yes' }).end(`{"path":"${req.url}"}`);
    });
  });
  server.on('connection', (socket) => socket.on('close', () => closedSockets++));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  pool = new Agent({ keepAliveTimeout: 30_000 });
});

afterAll(async () => {
  await pool.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('exchange', () => {
  it('gives the head, then the whole body to the reader, and keeps the connection', async () => {
    const before = closedSockets;
    const { answer, whole, text } = await readAll('/v1/embeddings?x=1');
    expect([answer.statusCode, answer.headers['x-answer'], whole, text]).toEqual([
      201,
      'yes',
      true,
      '{"path":"/v1/embeddings?x=1"}',
    ]);
    await readAll('/again');
    expect(closedSockets).toBe(before);
  });

  it('skips an informational answer and gives the final one', async () => {
    const { answer, text } = await readAll('/hints');
    expect([answer.statusCode, text]).toEqual([201, '{"path":"/hints"}']);
  });

  it('leaves the body in the socket until it is read', async () => {
    const answer = await send('/big');
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The server could not hand 32 MB to an unread socket.
    expect(bigResponse!.writableFinished).toBe(false);
    let received = 0;
    expect(await answer.read(BIG, (chunk) => (received += chunk.length))).toBe(true);
    expect(received).toBe(BIG);
  });

  it('stops past the limit, closes that connection, and the pool goes on', async () => {
    const before = closedSockets;
    const { whole } = await readAll('/big', 1024 * 1024);
    expect(whole).toBe(false);
    await expect.poll(() => closedSockets).toBe(before + 1);
    expect((await readAll('/after')).text).toBe('{"path":"/after"}');
  });

  it('closes a connection whose answer is discarded unread', async () => {
    const before = closedSockets;
    (await send('/big')).discard();
    await expect.poll(() => closedSockets).toBe(before + 1);
  });

  it('fails a read under way that is discarded, takes no chunk after it, and closes the connection', async () => {
    const before = closedSockets;
    const answer = await send('/big');
    let kept = 0;
    const reading = answer.read(BIG * 2, (chunk) => {
      kept += chunk.length;
      if (kept > 1024 * 1024) answer.discard();
    });
    await expect(reading).rejects.toThrow('left unread');
    const atDiscard = kept;
    await expect.poll(() => closedSockets).toBe(before + 1);
    expect(kept).toBe(atDiscard);
    expect(kept).toBeLessThan(BIG);
  });

  it('rejects with the deadline reason, before or while waiting for the head', async () => {
    const passed = new Deadline();
    passed.fire(new Error('already passed'));
    await expect(send('/v1', passed)).rejects.toThrow('already passed');
    const later = new Deadline();
    const pending = send('/never', later);
    setTimeout(() => later.fire(new Error('deadline')), 50);
    await expect(pending).rejects.toThrow('deadline');
  });

  it('rejects when the upstream cannot be reached', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const failing = exchange(
      pool,
      { method: 'POST', url: `http://127.0.0.1:${port}/v1`, headers: {}, body: '' },
      { timeout: 5_000, abortOn: new Deadline() },
    );
    await expect(failing).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
