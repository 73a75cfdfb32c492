// How PartmanDatabase names and parents the resources it creates.

import * as pulumi from "@pulumi/pulumi";

export interface Children {
  name(child: string): string;
  options(child: string): pulumi.CustomResourceOptions;
}

/** Children are named `<component>-<child>` so several components fit in one program. With
 *  `adoptTopLevel`, each also aliases the unparented, unprefixed resource that partman-stack's own
 *  program declared before the component existed, so upgrading such a stack moves its resources
 *  under the component instead of replacing them (and its protected tables stay put). */
export function children(parent: pulumi.ComponentResource, prefix: string, adoptTopLevel: boolean): Children {
  return {
    name: (child) => `${prefix}-${child}`,
    options: (child) => ({ parent, ...(adoptTopLevel ? { aliases: [{ name: child, parent: pulumi.rootStackResource }] } : {}) }),
  };
}
