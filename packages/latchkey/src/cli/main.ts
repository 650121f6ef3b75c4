/**
 * Entry of the `latchkey` binary (bin/latchkey.js imports the compiled form of this file).
 */
import { processIo } from './io.js';
import { runCli } from './run.js';

const code = await runCli(process.argv.slice(2), processIo());
// Let stdout drain, then leave even if a driver left a handle open (a pool, a socket).
process.exitCode = code;
setImmediate(() => process.exit(code)).unref();
