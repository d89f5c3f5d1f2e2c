import { mountShell } from '../shell';

// Placeholder until the sweeps page is built: the shell only.
void mountShell();
