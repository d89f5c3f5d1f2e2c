import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, connect as connectTcp, type Server as TcpServer, type Socket } from 'node:net';
import type { Registry } from 'prom-client';
import { freePort } from '@mlpipe/runtime';

/** An HTTP hop in front of the registry that the test can break: while broken, every connection is dropped. */
export async function startBreakableProxy(target: string) {
  let broken = false;
  const server: Server = createServer((req, res) => {
    if (broken) return void req.socket.destroy();
    void fetch(`${target}${req.url}`).then(
      async (answer) => res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/octet-stream' }).end(Buffer.from(await answer.arrayBuffer())),
      () => req.socket.destroy(),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    setBroken: (b: boolean) => void (broken = b),
    close: () => new Promise<void>((done) => (server.closeAllConnections(), server.close(() => done()))),
  };
}

/**
 * A TCP hop to a real server (the S3 API) on a port of its own: while down, nothing listens there and
 * open connections are cut, so a client sees the server gone (ECONNREFUSED), as when it restarts.
 */
export async function startBreakableHop(targetPort: number) {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: TcpServer | undefined;
  const down = () =>
    new Promise<void>((done) => {
      const s = server;
      server = undefined;
      for (const socket of sockets) socket.destroy();
      if (!s) return done();
      s.close(() => done());
    });
  const up = () =>
    new Promise<void>((done) => {
      if (server) return done();
      server = createTcpServer((inbound) => {
        const outbound = connectTcp(targetPort, '127.0.0.1');
        for (const s of [inbound, outbound]) {
          sockets.add(s);
          s.on('error', () => (inbound.destroy(), outbound.destroy()));
          s.on('close', () => sockets.delete(s));
        }
        inbound.pipe(outbound).pipe(inbound);
      }).listen(port, '127.0.0.1', done);
    });
  await up();
  return { port, up, down, close: down };
}

/** The sum of a counter's values whose labels match. */
export const counterValue = async (metrics: Registry, name: string, labels: Record<string, string>) =>
  (await metrics.getMetricsAsJSON()).find((m) => m.name === name)?.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0) ?? 0;
