/**
 * The host's floor for the serving rows: the least a Node process can do per request on this
 * machine. A bare node:http server reads the JSON body, parses it, touches every pixel and answers
 * a fixed 10-class reply (no framework, no model, no metrics); with --upstream it is a bare
 * proxy instead, forwarding each body over kept-alive connections, as the edge does. p99 at
 * concurrency 1 on a shared 2-core VM is dominated by scheduling noise; these rows show how much
 * of a gateway row's tail the host alone gives.
 * Usage: node --import tsx bench/serve/nodeFloor.ts --port P [--upstream http://127.0.0.1:Q]
 */
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string' }, upstream: { type: 'string' } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port <= 0) {
  console.error('nodeFloor: --port must be a port number');
  process.exit(2);
}
const reply = JSON.stringify({ model: 'floor', version: 1, prediction: 0, probabilities: Array.from({ length: 10 }, (_, i) => (i === 0 ? 1 : 0)) });

function readBody(req: http.IncomingMessage, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => done(Buffer.concat(chunks)));
}

function serve(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.url === '/healthz') return void res.end('ok');
  readBody(req, (body) => {
    const { pixels } = JSON.parse(body.toString()) as { pixels: number[] };
    let sum = 0;
    for (const p of pixels) sum += p;
    res.writeHead(Number.isFinite(sum) ? 200 : 400, { 'content-type': 'application/json' });
    res.end(reply);
  });
}

function proxyTo(upstream: URL): http.RequestListener {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  return (req, res) => {
    if (req.url === '/healthz') return void res.end('ok');
    readBody(req, (body) => {
      const headers = { 'content-type': 'application/json', 'content-length': body.length };
      const up = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: 'POST', agent, headers }, (answer) => {
        readBody(answer, (bytes) => {
          res.writeHead(answer.statusCode ?? 502, { 'content-type': 'application/json' });
          res.end(bytes);
        });
      });
      up.on('error', () => res.writeHead(502).end());
      up.end(body);
    });
  };
}

http.createServer(values.upstream ? proxyTo(new URL(values.upstream)) : serve).listen(port, '127.0.0.1');
