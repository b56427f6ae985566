#!/usr/bin/env node
// Entry point of the published CLI: everything lives in the compiled TypeScript under dist/.
import { MemoryLimitError, currentProcessMemory, heapFlagsToApply } from '../dist/cli/heap.js';

// `latchkey serve` runs with a V8 heap sized to the memory the process may use (the rule is in
// dist/cli/heap.js). V8 fixes the heap's sizes at start, so when they must change the process replaces
// itself with the flags added, before anything else is loaded: execve keeps the PID (the kubelet's signals
// still reach the server) and costs one bare Node.js start, and only where a memory limit asks for it.
let flags = [];
if (process.argv[2] === 'serve' && typeof process.execve === 'function') {
  try {
    flags = heapFlagsToApply(currentProcessMemory());
  } catch (e) {
    if (!(e instanceof MemoryLimitError)) throw e;
    process.stderr.write(`latchkey: ${e.message}\n`);
    process.exit(2);
  }
}
if (flags.length > 0) {
  process.execve(process.execPath, [
    process.execPath,
    ...flags,
    ...process.execArgv,
    ...process.argv.slice(1),
  ]);
}

const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
