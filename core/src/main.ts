#!/usr/bin/env node
/** `npm start`: the server, as `tandem start` runs it (see `cli/serve.ts` for its lifetime and exit codes). */
import { serve } from './cli/serve';

void serve();
