// The policy pack: `pulumi preview --policy-pack infra/policy`. Policy logic lives in policies.ts.

import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./policies";

new PolicyPack("partman-stack", { policies: POLICIES });
