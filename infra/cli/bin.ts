#!/usr/bin/env node
// The `partman-stack` binary (package.json `bin`), compiled to dist/cli/bin.js.

import { main } from "./main";

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
