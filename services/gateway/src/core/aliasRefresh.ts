/** What the registry said when an alias the gateway holds was read again. */
export type AliasRead = { kind: 'version'; version: number } | { kind: 'absent' } | { kind: 'failed'; reason: string };

/** What to do with one held alias resolution, and why. */
export type AliasDecision =
  | { action: 'keep'; reason: string }
  | { action: 'retry'; reason: string }
  | { action: 'move'; to: number; reason: string }
  | { action: 'drop'; reason: string };

/**
 * One held alias against a fresh read. Only the registry's own answer changes what is served: a
 * read that failed keeps the version in hand (a working model is never given up because the
 * registry could not be asked), and is tried again at the next refresh.
 */
export function decideAliasRefresh(held: number, read: AliasRead): AliasDecision {
  switch (read.kind) {
    case 'failed':
      return { action: 'retry', reason: `could not read the alias (${read.reason}); keeping v${held} until the next refresh` };
    case 'absent':
      // As a live alias event would: forget it, and let the next request resolve it (and fall back) as usual.
      return { action: 'drop', reason: `the registry no longer has the alias (held v${held})` };
    case 'version':
      return read.version === held
        ? { action: 'keep', reason: `still v${held}` }
        : { action: 'move', to: read.version, reason: `the registry says v${read.version}, held v${held}: an alias move was missed` };
  }
}
