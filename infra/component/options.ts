// Resource options the program relies on for safety, built here so tests can check them directly
// (Pulumi's mocks never see resource options).

import type * as pulumi from "@pulumi/pulumi";

/** A partitioned table is data: `pulumi destroy` or removing it from the stack must never drop it.
 *  protect makes Pulumi refuse the delete; retainOnDelete keeps the table if someone unprotects. */
export function tableOptions(dependsOn: pulumi.Input<pulumi.Resource>[]): pulumi.CustomResourceOptions {
  return { protect: true, retainOnDelete: true, dependsOn };
}

/** The dev container's data volume outlives the container (a changed command or image replaces
 *  the container) and `pulumi destroy`. */
export function dataVolumeOptions(): pulumi.CustomResourceOptions {
  return { retainOnDelete: true };
}

/** A schema that holds tables (the tables' own, or an archive schema holding expired partitions)
 *  is never dropped by removing it from the stack or by `pulumi destroy`. */
export function dataSchemaOptions(): pulumi.CustomResourceOptions {
  return { retainOnDelete: true };
}
