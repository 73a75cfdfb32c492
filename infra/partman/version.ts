// pg_partman's releases: the one parser of a version, and the table of what each release can do,
// which the rest of the dialect (and validation, before any connection) reads as flags. It imports
// nothing, so config/ may use it: see the floors in test/unit/module-floors.test.ts.

/** The first release of each behaviour partman-stack relies on or works around. */
const FEATURES = {
  /** 5.0: epoch microseconds (for a set or its sub-partitions). */
  microsecondEpochs: "5.0.0",
  /** 5.1: p_type 'list', one partition per value. */
  listSets: "5.1.0",
  /** 5.2: p_time_encoder / p_time_decoder (uuid and text control columns). */
  timeCodecs: "5.2.0",
  /** 5.3: partition_data_* inserts moved rows without OVERRIDING SYSTEM VALUE unless told. */
  overridesSystemValue: "5.3.0",
  /** 5.4: create_partition / create_sub_partition (create_parent / create_sub_parent remain as aliases). */
  createPartition: "5.4.0",
  /** 5.5: pg_partman quotes a time encoder's or decoder's name itself (each part with %I), so it
   *  is given and stored unquoted; before, it interpolated the name as given. */
  quotesCodecNames: "5.5.0",
  /** 5.5: run_maintenance catches a set's error (CVE-2026-61822), sets its maintenance_last_run
   *  NULL and only warns. */
  catchesSetErrors: "5.5.0",
  /** 5.5: part_config.detach_before_drop. */
  detachBeforeDrop: "5.5.0",
} as const;

export type PartmanFeatures = Record<keyof typeof FEATURES, boolean>;

export interface PartmanInstall extends PartmanFeatures {
  version: string;
  major: number;
  /** The schema the extension is installed in (pg_extension), or will be created in. */
  schema: string;
}

/** A release's version as numbers, for comparisons: "5.2.4" → [5, 2, 4]. */
export function versionParts(version: string): number[] {
  return version.split(".").map((n) => Number.parseInt(n, 10) || 0);
}

/** Whether `version` is `min` or later. */
export function versionAtLeast(version: string, min: string): boolean {
  const [a, b] = [versionParts(version), versionParts(min)];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/** What release `version` can do: the installed one's, or a stack's declared partmanVersion's. */
export function partmanFeatures(version: string): PartmanFeatures {
  return Object.fromEntries(Object.entries(FEATURES).map(([feature, since]) => [feature, versionAtLeast(version, since)])) as PartmanFeatures;
}

export function partmanInstall(version: string, schema: string): PartmanInstall {
  return { version, major: versionParts(version)[0], schema, ...partmanFeatures(version) };
}
