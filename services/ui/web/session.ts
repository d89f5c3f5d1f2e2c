// Shared by every page: who is signed in, what their role may do, and the CSRF token every POST sends.

export type Role = 'viewer' | 'operator' | 'admin';
export type Session = {
  principal: { name: string; role: Role; via: string } | null;
  role: Role | null;
  can: { read: boolean; operate: boolean; administer: boolean };
  csrfToken: string;
};

let current: Session | undefined;

async function parse<T>(res: Response): Promise<T> {
  const data = (await res.json().catch(() => ({}))) as T & { error?: string };
  if (!res.ok) throw new Error(data.error ?? `HTTP ${res.status}`);
  return data;
}

export async function loadSession(): Promise<Session> {
  current = await parse<Session>(await fetch('/api/session'));
  return current;
}

/** A GET, or a POST with the CSRF token in its header (the server refuses POSTs without it). */
export async function api<T>(path: string, body?: unknown): Promise<T> {
  if (body === undefined) return parse<T>(await fetch(path));
  const session = current ?? (await loadSession());
  const post = () => fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken }, body: JSON.stringify(body) });
  return parse<T>(await post());
}

const NEEDS: Record<string, keyof Session['can']> = { viewer: 'read', operator: 'operate', admin: 'administer' };

/**
 * Shows who is signed in (with sign-in and sign-out), and disables every control marked
 * `data-needs="operator"` (or viewer, admin) that the role may not use, saying why.
 */
export async function showSession(): Promise<Session> {
  const bar = document.getElementById('session');
  let session: Session;
  try {
    session = await loadSession();
  } catch (err) {
    // The page still shows what it can read; every button that changes something stays disabled.
    session = { principal: null, role: null, can: { read: true, operate: false, administer: false }, csrfToken: '' };
    if (bar) bar.textContent = `session unavailable: ${(err as Error).message}`;
    disableWhatIsNotAllowed(session);
    return session;
  }
  if (bar) {
    bar.replaceChildren();
    if (session.principal) {
      bar.append(`${session.principal.name} (${session.principal.role}) · `);
      const out = Object.assign(document.createElement('button'), { id: 'logout', type: 'button', textContent: 'Sign out' });
      out.addEventListener('click', () => void api('/api/logout', {}).then(() => location.reload()));
      bar.append(out);
    } else {
      bar.append(`${session.role ? `not signed in (${session.role})` : 'not signed in'} · `);
      bar.append(Object.assign(document.createElement('a'), { id: 'login-link', href: '/login', textContent: 'Sign in' }));
    }
  }
  disableWhatIsNotAllowed(session);
  return session;
}

function disableWhatIsNotAllowed(session: Session): void {
  for (const el of Array.from(document.querySelectorAll<HTMLElement>('[data-needs]'))) {
    const needs = el.dataset.needs ?? 'admin';
    const allowed = session.can[NEEDS[needs] ?? 'administer'];
    if ('disabled' in el) (el as HTMLButtonElement).disabled = !allowed;
    el.title = allowed ? '' : `needs role ${needs}: sign in with such a token`;
    el.classList.toggle('not-allowed', !allowed);
  }
}
