import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

/** A real S3 API server (s3rver) on a free loopback port with its own folder; close() removes both. */
export async function startS3Server(): Promise<{ endpoint: string; accessKey: string; secretKey: string; close(): Promise<void> }> {
  const directory = await mkdtemp(join(tmpdir(), 'mlpipe-s3-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    // s3rver's fixed development credentials.
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
