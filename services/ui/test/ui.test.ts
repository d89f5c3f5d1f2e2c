import { describe, expect, it } from 'vitest';
import { createLogger, createMetricsRegistry } from '@mlpipe/common';
import { buildUi } from '../src/app';

describe('ui skeleton', () => {
  it('serves a page linking the registry, escaping configured URLs', async () => {
    const app = buildUi({
      gatewayUrl: 'http://gw"><script>',
      registryUrl: 'http://127.0.0.1:8081',
      metrics: createMetricsRegistry('ui'),
      logger: createLogger('t', 'silent'),
    });
    const res = await app.inject('/');
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toContain('href="http://127.0.0.1:8081/models"');
    expect(res.body).not.toContain('<script>');
    expect((await app.inject('/healthz')).statusCode).toBe(200);
  });
});
