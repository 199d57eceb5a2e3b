#!/usr/bin/env node
// The `stageplane` bin: runs cli/main.ts through tsx, resolved from this package (so it works
// from any directory once linked or installed), in this same process (Ctrl-C reaches it directly).
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
