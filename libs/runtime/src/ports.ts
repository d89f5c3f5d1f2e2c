import { createServer } from 'node:net';

/** A TCP port free on the loopback interface right now (for starting child servers in tests). */
export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
    s.on('error', fail);
  });
}
