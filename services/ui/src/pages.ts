/**
 * Every page of the web UI: its path (fastify's syntax, `:id` for a parameter), the HTML fragment
 * under web/pages/ that becomes its <main>, and the script entry under web/pages/ that esbuild
 * bundles for it. Adding a page is one line here plus its two files; the shell (web/shell.ts) gives
 * it the nav bar and the session indicator.
 */
export interface PageSpec {
  path: string;
  /** web/pages/<entry>.html (the <main> content) and web/pages/<entry>.ts (its script). */
  entry: string;
  /** What the browser tab says after "mlpipe — ". */
  title: string;
}

export const PAGES: readonly PageSpec[] = [
  { path: '/', entry: 'draw', title: 'draw a digit' },
  { path: '/experiments', entry: 'experiments', title: 'experiments' },
  { path: '/compare', entry: 'compare', title: 'compare runs' },
  { path: '/runs/:id', entry: 'run', title: 'run' },
  { path: '/models', entry: 'models', title: 'registry' },
  { path: '/models/:name', entry: 'model', title: 'registry' },
  { path: '/jobs', entry: 'jobs', title: 'jobs' },
  { path: '/sweeps', entry: 'sweeps', title: 'sweeps' },
  { path: '/data', entry: 'data', title: 'data' },
  { path: '/login', entry: 'login', title: 'sign in' },
];
