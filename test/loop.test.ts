import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

interface LoopSummary {
  championBefore: number;
  championAfter: number;
  newVersion: number;
  gate: { outcome: string; reason: string } | null;
  driftDetectedInPrometheus: number;
  driftAlertFiring: boolean;
  inkSharePsi: number | null;
  servedVersion: number;
  lineage: { runId: string; codeVersion: string; datasetVersion: string };
  trigger: { kind: string; reason: string } | null;
}

/**
 * The whole continuous-training cycle with real processes: every service, a real Prometheus
 * scraping them (Debian's binary, installed by deploy/scripts/install-tools.sh), NATS, PostgreSQL
 * and a folder store — under its own name and ports, so a running demo is left alone.
 */
describe('the demo loop: drift → Prometheus → retraining → gate → served without restart', () => {
  // Also the newcomer's first run: `npm run demo` exactly as the README says (its dependency check
  // included), on a machine without Chromium; the demo needs no browser, so it must still succeed.
  it('goes round once, through `npm run demo -- --exit` on a machine without Chromium', async () => {
    const child = spawn('npm', ['run', '--silent', 'demo', '--', '--exit', '--loop', '--epochs', '1', '--replicas', '1', '--name', 'looptest', '--port-base', '18080', '--timeout-min', '10'], {
      cwd: root,
      // One epoch is enough to show the loop; the class floor is relaxed so a short first model passes.
      env: { ...process.env, GATE_CLASS_FLOOR: '0.8', CHROMIUM_PATH: '/nonexistent/chromium' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((done) => child.on('exit', done));
    expect(code, out.slice(-3000)).toBe(0);
    expect(out).not.toMatch(/missing:/);
    // --exit: it stopped by itself after the loop instead of waiting for Ctrl-C.
    expect(out).not.toMatch(/keep running until you press Ctrl-C/);
    const line = out.split('\n').find((l) => l.startsWith('LOOP_SUMMARY '));
    expect(line, out.slice(-3000)).toBeDefined();
    const summary = JSON.parse(line!.slice('LOOP_SUMMARY '.length)) as LoopSummary;
    expect(summary.driftDetectedInPrometheus).toBeGreaterThanOrEqual(1);
    expect(summary.inkSharePsi).toBeGreaterThan(0.2);
    expect(summary.driftAlertFiring).toBe(true);
    expect(summary.trigger?.kind).toBe('drift');
    expect(summary.trigger?.reason).toMatch(/drift on champion v1/);
    expect(summary.newVersion).toBe(2);
    // One epoch may or may not be enough to pass the gate: either way it decides with a reason,
    // and a promotion compares with the champion scored on the same (shifted) test data.
    expect(['champion', 'challenger']).toContain(summary.gate?.outcome);
    if (summary.gate?.outcome === 'champion') expect(summary.gate.reason).toMatch(/champion v1 \(.* on the same test data\)/);
    else expect(summary.gate?.reason).toMatch(/below the floor|does not beat champion v1/);
    expect(summary.championAfter).toBe(summary.gate?.outcome === 'champion' ? 2 : 1);
    expect(summary.servedVersion).toBe(summary.championAfter);
    expect(summary.lineage.datasetVersion).toMatch(/^[0-9a-f]{64}$/);
  }, 20 * 60_000);
});
