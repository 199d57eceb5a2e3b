// Rules about releases and which deployments a push starts.
import type { DeployPolicy } from './types.ts';

/**
 * Glob match of a branch against a policy's branchPattern: `*` matches within one path segment,
 * `**` across segments, `?` one character (e.g. "feature/*", "release/**").
 */
export function branchMatches(pattern: string, branch: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`).test(branch);
}

/** Whether a push to `branch` deploys to an environment at once. */
export function pushTriggers(env: { policy: DeployPolicy; frozen: boolean; archivedAt: Date | null }, branch: string): boolean {
  return (
    env.policy.trigger === 'AUTO_ON_PUSH' &&
    !env.frozen &&
    env.archivedAt === null &&
    env.policy.branchPattern !== null &&
    branchMatches(env.policy.branchPattern, branch)
  );
}

/** The default version of a release: the short commit sha. */
export const defaultVersion = (commitSha: string) => commitSha.slice(0, 7);
