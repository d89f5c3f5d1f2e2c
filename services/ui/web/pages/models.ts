import { mountShell } from '../shell';
import { api } from '../session';
import { $, el, showError } from '../dom';

// Every registered model with its version count and aliases; each links to its registry page.

type ModelSummary = { name: string; versions: number; aliases: Record<string, number> };

async function main(): Promise<void> {
  await mountShell();
  try {
    const { models } = await api<{ models: ModelSummary[] }>('/api/registry/models');
    $<HTMLTableElement>('models').tBodies[0]!.replaceChildren(...models.map((m) =>
      el('tr', { 'data-model': m.name },
        el('td', {}, el('a', { href: `/models/${encodeURIComponent(m.name)}` }, m.name)),
        el('td', { class: 'num' }, m.versions),
        el('td', {}, ...Object.entries(m.aliases).map(([a, v]) => el('span', { class: 'alias' }, `${a} → v${v}`))),
      ),
    ));
    $('models-status').textContent = models.length ? '' : 'No model is registered yet: run the demo or submit a job.';
  } catch (err) {
    showError($('models-status'), 'Could not list the models', err);
  }
}
void main();
