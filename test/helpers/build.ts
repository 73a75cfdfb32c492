// The project compiled once per run by the global setup (test/global-setup.ts).

import { inject } from "vitest";

/** The build folder; throws tsc's errors when the build failed. */
export function sharedBuild(): string {
  const error = inject("buildError");
  if (error) throw new Error(`the shared tsc build failed:\n${error}`);
  return inject("buildDir");
}
