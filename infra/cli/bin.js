#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so the command never lags behind the source.
require("tsx/cjs/api").register();
require("./main.ts")
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
