#!/usr/bin/env node
// Thin launcher: the CLI itself is compiled TypeScript in dist/.
import('../dist/cli/main.js').catch((err) => {
  // Only the CLI's own entry missing means an unbuilt clone; any other missing module is reported as is.
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('cli/main.js')) {
    console.error('latchkey: the package is not built; run `npm run build` from the repository root');
    process.exit(70);
  }
  throw err;
});
