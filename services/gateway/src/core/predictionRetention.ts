/**
 * Which prediction logs are past their retention: written (a log is never rewritten, so its
 * last-modified time is its write time) more than `maxAgeMs` before `now`. 0 keeps them all.
 */
export function expiredPredictionLogs(objects: readonly { key: string; lastModified: Date }[], now: number, maxAgeMs: number): string[] {
  if (maxAgeMs <= 0) return [];
  return objects.filter((o) => now - o.lastModified.getTime() > maxAgeMs).map((o) => o.key);
}
