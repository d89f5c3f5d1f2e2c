/**
 * Which stored objects of an ended job's checkpoints may go. Kept: the pointer, the folder it
 * names (the last checkpoint, what a resume reads), and every folder that sorts after it (a later
 * attempt may be writing one and is about to point at it). Only whole step folders older than the
 * pointed one go, so stopping at any moment of a prune leaves a pointer whose folder is whole.
 *
 * `checkpointsRoot` is storeKeys.checkpoints(job); `pointed` is the folder the pointer names, given
 * only when it is a step folder of the current layout (storeKeys.checkpointDir): with a pointer of
 * an older layout nothing is pruned.
 */
export function checkpointKeysToPrune(keys: readonly string[], checkpointsRoot: string, pointed: string | undefined): string[] {
  if (!pointed?.startsWith(checkpointsRoot)) return [];
  return keys.filter((key) => {
    if (!key.startsWith(checkpointsRoot)) return false;
    // attempt-NNN/step-NNNNNNNNN/<file>: anything shallower (the pointer, an older layout's folders) stays.
    const parts = key.slice(checkpointsRoot.length).split('/');
    if (parts.length < 3) return false;
    const folder = `${checkpointsRoot}${parts[0]}/${parts[1]}/`;
    // Zero-padded attempt and step numbers: folders sort in the order they were written.
    return folder < pointed;
  });
}
