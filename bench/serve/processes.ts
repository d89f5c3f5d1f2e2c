import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { eventually } from '@mlpipe/common';
import { freePort } from '@mlpipe/runtime';

export interface Served {
  url: string;
  /** host:port of its gRPC listener, when it was given one. */
  grpc?: string;
  child: ChildProcess;
}

/** A gateway process (replica, or edge with MODEL_REPLICAS) on free ports, once /readyz answers. */
export async function startGateway(root: string, env: Record<string, string>, withGrpc: boolean): Promise<Served> {
  const port = await freePort();
  const grpcPort = withGrpc ? await freePort() : undefined;
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services/gateway/src/main.ts')], {
    cwd: root,
    // Every gateway on this host gets its own gRPC port (the default 9080 would be shared), or none (0).
    env: { ...process.env, ...env, HTTP_PORT: String(port), LOG_LEVEL: 'warn', GATEWAY_GRPC_PORT: String(grpcPort ?? 0) },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually(() => fetch(`${url}/readyz`).then((r) => r.ok, () => false), 60_000, `gateway on ${port}`);
  return { url, child, ...(grpcPort ? { grpc: `127.0.0.1:${grpcPort}` } : {}) };
}

/** bench/serve/nodeFloor.ts on a free port: a bare server, or with `upstream` a bare proxy to one; once it answers. */
export async function startNodeFloor(root: string, upstream?: string): Promise<Served> {
  const port = await freePort();
  const args = ['--import', 'tsx', join(root, 'bench/serve/nodeFloor.ts'), '--port', String(port), ...(upstream ? ['--upstream', upstream] : [])];
  const child = spawn(process.execPath, args, { cwd: root, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await eventually(() => fetch(`${url}/healthz`).then((r) => r.ok, () => false), 30_000, `node floor on ${port}`);
  return { url, child };
}

/**
 * The Flask+PyTorch anchor (bench/serve/flask_app.py) under gunicorn with one sync worker, run by
 * Debian's /usr/bin/python3 (its python3-flask, python3-torch, gunicorn), once it answers.
 */
export async function startFlask(root: string): Promise<Served> {
  const port = await freePort();
  const child = spawn('/usr/bin/python3', ['-m', 'gunicorn', '--workers', '1', '--bind', `127.0.0.1:${port}`, '--chdir', join(root, 'bench/serve'), '--log-level', 'warning', 'flask_app:app'], {
    cwd: root,
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually(() => fetch(`${url}/healthz`).then((r) => r.ok, () => false), 60_000, `gunicorn on ${port}`);
  return { url, child };
}

/** Which of the anchor's tools are missing on this machine (empty: all there). */
export async function missingAnchorTools(): Promise<string[]> {
  const ok = (cmd: string, args: string[]) =>
    new Promise<boolean>((done) => {
      const c = spawn(cmd, args, { stdio: 'ignore' });
      c.on('error', () => done(false));
      c.on('exit', (code) => done(code === 0));
    });
  const missing: string[] = [];
  if (!(await ok('sh', ['-c', 'command -v wrk']))) missing.push('wrk');
  if (!(await ok('/usr/bin/python3', ['-c', 'import flask, torch, gunicorn']))) missing.push('python3-flask, python3-torch or gunicorn for /usr/bin/python3');
  return missing;
}

/** Tool versions for the results file. */
export async function versions(): Promise<Record<string, string>> {
  const out = (cmd: string, args: string[]) =>
    new Promise<string>((done) => {
      const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      c.stdout.on('data', (d: Buffer) => (text += d.toString()));
      c.stderr.on('data', (d: Buffer) => (text += d.toString()));
      c.on('error', () => done('missing'));
      c.on('exit', () => done(text.trim().split('\n')[0] ?? ''));
    });
  return {
    wrk: await out('wrk', ['--version']),
    python: await out('/usr/bin/python3', ['--version']),
    flaskTorchGunicorn: await out('/usr/bin/python3', ['-c', 'import flask, torch, gunicorn; print("flask", flask.__version__, "torch", torch.__version__, "gunicorn", gunicorn.__version__)']),
  };
}
