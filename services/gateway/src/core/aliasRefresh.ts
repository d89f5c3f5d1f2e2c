/** What the registry said when an alias the gateway holds was read again. */
export type AliasRead = { kind: 'version'; version: number } | { kind: 'absent' } | { kind: 'failed'; reason: string };

/** What to do with one held alias resolution, and why. */
export type AliasDecision =
  | { action: 'keep'; reason: string }
  | { action: 'retry'; reason: string }
  | { action: 'move'; to: number; reason: string }
  | { action: 'drop'; reason: string };

/**
 * One held alias against a fresh read. The registry's answer is the newest word (it was asked after
 * any event the gateway had heard), so it decides. A read that failed keeps the version in hand (a
 * working model is never given up because the registry could not be asked) and is tried again at
 * the next refresh; but if the alias was since named for a version that would not load then
 * (`wanted`: by an alias event, or an earlier read), that version is tried again now, as the newest
 * word there is.
 */
export function decideAliasRefresh(held: number, read: AliasRead, wanted?: number): AliasDecision {
  switch (read.kind) {
    case 'failed':
      return wanted !== undefined && wanted !== held
        ? { action: 'move', to: wanted, reason: `could not read the alias (${read.reason}); trying v${wanted} again, the version last named for it (held v${held})` }
        : { action: 'retry', reason: `could not read the alias (${read.reason}); keeping v${held} until the next refresh` };
    case 'absent':
      // As a live alias event would: forget it, and let the next request resolve it (and fall back) as usual.
      return { action: 'drop', reason: `the registry no longer has the alias (held v${held})` };
    case 'version':
      if (read.version === held) return { action: 'keep', reason: wanted === undefined ? `still v${held}` : `still v${held} (v${wanted}, named before, is no longer wanted)` };
      return read.version === wanted
        ? { action: 'move', to: read.version, reason: `the registry says v${read.version}, which would not load before, held v${held}` }
        : { action: 'move', to: read.version, reason: `the registry says v${read.version}, held v${held}: an alias move was missed` };
  }
}
