import { describe, expect, it } from 'vitest';
import { proxyPathProblem } from '../src/core/proxyPath';

describe('which UI paths may be forwarded', () => {
  it('lets plain paths through, whatever the query says', () => {
    expect(proxyPathProblem('/api/registry/runs/job-1.a/metrics')).toBeUndefined();
    expect(proxyPathProblem('/api/registry/experiments/mnist/runs?sort=loss&x=..')).toBeUndefined();
    expect(proxyPathProblem('/api/models/mnist%2Dv2')).toBeUndefined();
  });

  it('refuses dot segments, raw or percent-encoded up to three times', () => {
    expect(proxyPathProblem('/api/registry/runs/../metrics')).toBe('the path holds a "." or ".." segment');
    expect(proxyPathProblem('/api/registry/runs/./metrics')).toBe('the path holds a "." or ".." segment');
    expect(proxyPathProblem('/api/registry/runs/%2E%2e/metrics')).toBe('the path holds a "." or ".." segment (after 1 round of percent-decoding)');
    expect(proxyPathProblem('/api/registry/runs/%25252e%25252e/metrics')).toBe('the path holds a "." or ".." segment (after 3 rounds of percent-decoding)');
    expect(proxyPathProblem('/api/x/%2525252e%2525252e/y')).toBe('the path is still percent-encoded after 3 rounds of decoding');
  });

  it('refuses encoded slashes and backslashes, backslashes, control characters and bad encodings', () => {
    expect(proxyPathProblem('/api/registry/runs/a%2Fb/metrics')).toBe('the path holds an encoded slash or backslash');
    expect(proxyPathProblem('/api/registry/runs/a%255Cb/metrics')).toBe('the path holds an encoded slash or backslash (after 1 round of percent-decoding)');
    expect(proxyPathProblem('/api/registry/runs/a\\b')).toBe('the path holds a backslash');
    expect(proxyPathProblem('/api/registry/runs/a%00b')).toBe('the path holds a control character (after 1 round of percent-decoding)');
    expect(proxyPathProblem('/api/models/%E0%A4%A')).toBe('the path holds a malformed percent-encoding');
  });
});
