/** The part of the lab's configuration the SessionManager and its sessions enforce (see config.ts for meanings). */
import type { LabConfig } from '../config';
import type { SandboxLimits } from '../sandbox/driver';
import type { RuntimeName } from '../wire';

export const POLICY_KEYS = [
  'maxSandboxes',
  'maxSandboxesPerClient',
  'sessionsPerClientPerMinute',
  'idleTimeoutMs',
  'maxLifetimeMs',
  'warnBeforeEndMs',
  'reconnectGraceMs',
  'checkTimeoutMs',
  'checkOutputBytes',
  'maxQueue',
  'extendByMs',
  'maxExtends',
  'startTimeoutMs',
  'maxSandboxesPerAddress',
  'savedWorkBytes',
] as const;

export type SessionPolicy = Pick<LabConfig, (typeof POLICY_KEYS)[number]> & { limits: SandboxLimits; poolSizes?: Partial<Record<RuntimeName, number>> };

export function policyFrom(config: LabConfig): SessionPolicy {
  const picked = Object.fromEntries(POLICY_KEYS.map((k) => [k, config[k]])) as Pick<LabConfig, (typeof POLICY_KEYS)[number]>;
  return { ...picked, limits: config.sandbox, poolSizes: config.poolSizes };
}
