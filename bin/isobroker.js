#!/usr/bin/env node
// The `isobroker` command. The package is compiled by `npm install` (its `prepare` script).
import { main } from '../dist/server/cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(`isobroker: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
