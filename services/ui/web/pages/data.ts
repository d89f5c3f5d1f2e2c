import { mountShell } from '../shell';

// Placeholder until the data page is built: the shell only.
void mountShell();
