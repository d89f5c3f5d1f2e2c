/** Decoding rounds looked through: a path encoded twice (`%252e%252e`) is caught as well as one encoded once. */
const DECODE_ROUNDS = 3;

/**
 * Why a request path must not be forwarded, or undefined when it is plain. The UI builds backend
 * URLs from its own paths, and a URL parser (fetch's) resolves `..` and `.` segments, so
 * `/api/registry/runs/../metrics` would reach the registry's `/metrics`; an encoded slash or
 * backslash would split a segment once a backend decodes it. None of these has a use in the UI's
 * API, so each is refused (400) rather than cleaned up.
 */
export function proxyPathProblem(rawUrl: string): string | undefined {
  let path = rawUrl.split('?')[0] ?? '';
  for (let round = 0; round <= DECODE_ROUNDS; round++) {
    const encoded = round === 0 ? '' : ` (after ${round} round${round > 1 ? 's' : ''} of percent-decoding)`;
    if (/%2f|%5c/i.test(path)) return `the path holds an encoded slash or backslash${encoded}`;
    if (path.includes('\\')) return `the path holds a backslash${encoded}`;
    if (path.split('/').some((s) => s === '.' || s === '..')) return `the path holds a "." or ".." segment${encoded}`;
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(path)) return `the path holds a control character${encoded}`;
    if (!path.includes('%')) return undefined;
    try {
      path = decodeURIComponent(path);
    } catch {
      return 'the path holds a malformed percent-encoding';
    }
  }
  return `the path is still percent-encoded after ${DECODE_ROUNDS} rounds of decoding`;
}
