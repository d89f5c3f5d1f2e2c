// Small DOM helpers the pages share: text always goes in as text (never as HTML), so names and
// reasons from the backends cannot inject markup.

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

type Child = Node | string | number | null | undefined | false;

/** An element with attributes (class, data-*, href…) and children; strings become text nodes. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) node.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(typeof c === 'number' ? String(c) : c);
  return node;
}

/** A fixed-precision number, or an en dash when there is none. */
export const fmt = (v: number | null | undefined, digits = 4): string => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
export const pct = (v: number | null | undefined, digits = 2): string => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(digits)}%`);

/** Shows a failure where the data would have been, in words. */
export function showError(target: HTMLElement, what: string, err: unknown): void {
  target.replaceChildren(el('p', { class: 'error', role: 'alert' }, `${what}: ${(err as Error).message}`));
}
