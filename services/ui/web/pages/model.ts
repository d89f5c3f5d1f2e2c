import { mountShell } from '../shell';
import { api, type Session } from '../session';
import { $, el, pct, showError } from '../dom';
import { registry, type GateDecision, type Version } from '../registryApi';

// One registered model: its versions with aliases, accuracy and the gate's decision; the live
// traffic split; the audit log; and, for admins, promote / roll back / set challenger.

const name = decodeURIComponent(location.pathname.split('/')[2] ?? 'mnist');
type Traffic =
  | { available: false; reason: string }
  | { available: true; requests: Record<string, number>; shares: Record<string, number>; shadow: { agree: number; disagree: number; agreement: number | null }; replicas: string[]; missing: { replica: string; reason: string }[] };

async function move(alias: 'champion' | 'challenger', version: number): Promise<void> {
  const status = $('move-status');
  const reason = $<HTMLInputElement>('move-reason').value.trim();
  status.textContent = `Moving ${alias} to v${version}…`;
  try {
    const change = await api<{ alias: string; version: number; previousVersion: number | null }>(`/api/models/${encodeURIComponent(name)}/aliases/${alias}`, { version, reason });
    status.textContent = `${change.alias} → v${change.version}${change.previousVersion ? ` (was v${change.previousVersion})` : ''}`;
    await load();
  } catch (err) {
    status.textContent = `Not moved: ${(err as Error).message}`;
  }
}

function actionsOf(v: Version, champion: number | undefined, challenger: number | undefined): HTMLElement {
  const td = el('td', { class: 'actions' });
  if (v.version !== champion) {
    const label = champion !== undefined && v.version < champion ? `Roll back to v${v.version}` : `Promote v${v.version}`;
    const b = el('button', { type: 'button', 'data-action': 'champion', 'data-version': String(v.version) }, label);
    b.addEventListener('click', () => void move('champion', v.version));
    td.append(b);
  }
  if (v.version !== challenger && v.version !== champion) {
    const b = el('button', { type: 'button', 'data-action': 'challenger', 'data-version': String(v.version) }, 'Set challenger');
    b.addEventListener('click', () => void move('challenger', v.version));
    td.append(' ', b);
  }
  return td;
}

function showVersions(versions: Version[], aliases: Record<string, number>, decisions: GateDecision[], session: Session): void {
  const admin = session.can.administer;
  const gate = new Map(decisions.map((d) => [d.version, d]));
  const heads = ['version', 'aliases', 'run', 'test accuracy', 'transformed digits', 'gate', 'reason', 'judged against', 'registered', ...(admin ? ['actions'] : [])];
  $<HTMLTableElement>('versions').tHead!.replaceChildren(el('tr', {}, ...heads.map((h) => el('th', {}, h))));
  $<HTMLTableElement>('versions').tBodies[0]!.replaceChildren(...versions.map((v) => {
    const d = gate.get(v.version);
    return el('tr', { 'data-version': String(v.version) },
      el('td', {}, `v${v.version}`),
      el('td', { 'data-key': 'aliases' }, ...v.aliases.map((a) => el('span', { class: 'alias' }, a))),
      el('td', {}, el('a', { href: `/runs/${encodeURIComponent(v.runId)}` }, v.runId)),
      el('td', { class: 'num' }, pct(v.testAccuracy)),
      el('td', { class: 'num' }, v.transformedTestAccuracy === null ? '–' : pct(v.transformedTestAccuracy)),
      el('td', { 'data-key': 'gate' }, d?.outcome ?? '–'),
      el('td', { 'data-key': 'reason' }, d?.reason ?? '–'),
      el('td', {}, d?.championAtTheTime ? `v${d.championAtTheTime.version}` : d ? 'none' : '–'),
      el('td', {}, v.createdAt?.replace('T', ' ').slice(0, 19) ?? '–'),
      ...(admin ? [actionsOf(v, aliases.champion, aliases.challenger)] : []),
    );
  }));
}

async function showTraffic(): Promise<void> {
  const target = $('traffic');
  try {
    const t = await api<Traffic>(`/api/models/${encodeURIComponent(name)}/traffic`);
    if (!t.available) return void target.replaceChildren(el('p', { class: 'muted' }, `Not available: ${t.reason}`));
    const variants = Object.entries(t.requests);
    target.replaceChildren(
      variants.length
        ? el('table', { id: 'shares' }, el('thead', {}, el('tr', {}, el('th', {}, 'variant'), el('th', {}, 'requests'), el('th', {}, 'share'))), el('tbody', {}, ...variants.map(([v, n]) => el('tr', { 'data-variant': v }, el('td', {}, v), el('td', { class: 'num' }, n), el('td', { class: 'num' }, pct(t.shares[v] ?? 0, 1))))))
        : el('p', { class: 'muted' }, 'No requests counted by the gateway since it started.'),
      el('p', { id: 'shadow' }, t.shadow.agreement === null ? 'No shadow predictions yet.' : `Shadow: the challenger agreed with the answer on ${t.shadow.agree} of ${t.shadow.agree + t.shadow.disagree} requests (${pct(t.shadow.agreement, 1)}).`),
      // Behind the edge the counts are the replicas' summed; one that did not answer is not in them.
      el('p', t.missing.length ? { id: 'replicas' } : { id: 'replicas', class: 'muted' }, `Counted by ${t.replicas.length} model replica${t.replicas.length === 1 ? '' : 's'}.${t.missing.map((m) => ` Not counted: ${m.replica} (${m.reason}).`).join('')}`),
    );
  } catch (err) {
    showError(target, 'Could not read the gateway', err);
  }
}

async function showAudit(): Promise<void> {
  const entries = await registry.audit(name);
  $<HTMLTableElement>('audit').tBodies[0]!.replaceChildren(...entries.map((e) =>
    el('tr', { 'data-audit': String(e.id) }, el('td', {}, e.at.replace('T', ' ').slice(0, 19)), el('td', { 'data-key': 'actor' }, e.actor), el('td', {}, e.action), el('td', {}, `v${e.version}`), el('td', {}, e.decision), el('td', {}, e.reason)),
  ));
}

let session: Session;
async function load(): Promise<void> {
  const [model, decisions] = await Promise.all([registry.model(name), registry.decisions(name)]);
  $('model-aliases').replaceChildren(...(Object.entries(model.aliases).map(([a, v]) => el('span', { class: 'alias', 'data-alias': a }, `${a} → v${v}`))), Object.keys(model.aliases).length ? '' : 'no aliases yet');
  showVersions(model.versionList, model.aliases, decisions, session);
  await Promise.all([showAudit(), showTraffic()]);
}

async function main(): Promise<void> {
  session = await mountShell();
  $('model-name').textContent = name;
  document.title = `mlpipe — ${name}`;
  // Only roles that may move aliases see the actions at all (the registry checks again).
  $('actions-panel').hidden = !session.can.administer;
  try {
    await load();
  } catch (err) {
    showError($('model-aliases'), `Could not load model ${name}`, err);
  }
}
void main();
