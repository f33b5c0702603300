#!/usr/bin/env node
/** The `tandem` command (see `program.ts`). */
import { main } from './program';

void main();
