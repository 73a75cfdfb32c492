// The folder holding package.json and sql/: one level above this file both in the source (infra/)
// and in the compiled package (dist/), so the same code finds its SQL either way.

import fs from "node:fs";
import path from "node:path";

export const PACKAGE_ROOT = path.resolve(__dirname, "..");

/** package.json's version: read from the file, because a JSON import would place package.json
 *  inside the compiled output. */
export const PACKAGE_VERSION: string = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")).version;
