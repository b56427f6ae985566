#!/usr/bin/env node
// Entry point of the published CLI: everything lives in the compiled TypeScript under dist/.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
