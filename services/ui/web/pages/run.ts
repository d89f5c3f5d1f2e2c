import { mountShell } from '../shell';

void mountShell();
