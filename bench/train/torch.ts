import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TorchStatus } from './result';

export const PYTHON = '/usr/bin/python3';
const INSTALL_TIMEOUT_MS = 20 * 60_000;


function importTorch(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * PyTorch from Debian's python3-torch: used if it imports, else installed with apt-get (as root, or
 * through passwordless sudo). When it cannot be had, says why, so the bench can skip it and go on.
 */
export function ensureTorch(log: (line: string) => void): TorchStatus {
  if (!existsSync(PYTHON)) return { available: false, reason: `${PYTHON} does not exist (apt-get install python3 python3-torch)` };
  const present = importTorch();
  if (present) return { available: true, version: present };
  const asRoot = process.getuid?.() === 0;
  const viaSudo = !asRoot && spawnSync('sudo', ['-n', 'true']).status === 0;
  if (!asRoot && !viaSudo) return { available: false, reason: 'python3-torch is not installed and this user cannot run apt-get (not root, no passwordless sudo): run "sudo apt-get install python3-torch"' };
  log('PyTorch missing: installing python3-torch with apt-get (this can take several minutes)…');
  const cmd = [...(viaSudo ? ['sudo', '-n'] : []), 'apt-get', 'install', '-y', '--no-install-recommends', 'python3-torch'];
  const r = spawnSync(cmd[0] as string, cmd.slice(1), { encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const installed = importTorch();
  if (installed) return { available: true, version: installed };
  const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' / ');
  return { available: false, reason: `apt-get install python3-torch failed (${r.error?.message ?? `exit ${r.status}`}): ${tail || 'no output'}` };
}
