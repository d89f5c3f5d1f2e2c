import { api } from '../session';
import { mountShell } from '../shell';

// Sign-in: the token is sent once, and becomes an HttpOnly session cookie (the page never keeps it).
const form = document.getElementById('login') as HTMLFormElement;
const status = document.getElementById('login-status') as HTMLParagraphElement;
form.addEventListener('submit', (e) => {
  e.preventDefault();
  const token = (document.getElementById('token') as HTMLInputElement).value.trim();
  api<{ principal: { name: string; role: string } }>('/api/login', { token })
    .then((s) => {
      status.textContent = `Signed in as ${s.principal.name} (${s.principal.role}).`;
      location.assign('/');
    })
    .catch((err: Error) => (status.textContent = `Not signed in: ${err.message}`));
});
void mountShell();
