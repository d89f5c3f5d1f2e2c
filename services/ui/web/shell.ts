import { showSession, type Session } from './session';

/** The nav bar every page shares: label → path. */
export const NAV: readonly (readonly [string, string])[] = [
  ['Draw', '/'],
  ['Experiments', '/experiments'],
  ['Registry', '/models'],
  ['Jobs', '/jobs'],
  ['Sweeps', '/sweeps'],
  ['Data', '/data'],
];

/** Which nav entry a path belongs to (a run or a comparison belongs to Experiments). */
function activeOf(path: string): string {
  if (path.startsWith('/runs/') || path.startsWith('/compare')) return '/experiments';
  return NAV.find(([, href]) => href !== '/' && path.startsWith(href))?.[1] ?? (path === '/' ? '/' : '');
}

/**
 * Every page's first call: fills the header the server rendered (nav with the current page marked,
 * the session indicator with sign-in / sign-out) and disables controls the role may not use.
 * Returns the session, so a page can decide which actions to show at all.
 */
export async function mountShell(): Promise<Session> {
  const nav = document.getElementById('nav');
  if (nav) {
    const active = activeOf(location.pathname);
    nav.replaceChildren(
      ...NAV.map(([label, href]) => {
        const a = Object.assign(document.createElement('a'), { href, textContent: label });
        if (href === active) a.setAttribute('aria-current', 'page');
        return a;
      }),
    );
  }
  return showSession();
}
