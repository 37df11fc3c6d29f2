import type { HelperAnswer } from './helper-client';
import type { PassthroughPlan } from './plan';

/**
 * A bind the plan blocks never reaches the helper. The helper checks the IOMMU groups again by itself,
 * but only the plan knows what else the host would lose (its root filesystem behind a device that moves,
 * an extra that is not the card's): the wizard and the CLI answer with the plan's blockers instead.
 */
export function blockedBind(plan: PassthroughPlan): HelperAnswer | null {
  if (plan.viable) return null;
  return {
    ok: false,
    verb: 'bind',
    target: plan.target,
    devices: [],
    steps: [],
    rolledBack: false,
    recovered: null,
    verification: null,
    error: { code: 'REFUSED', message: `${plan.target} cannot be passed through: ${plan.blockers.map((b) => `${b.code}: ${b.message}`).join('; ')}` },
  };
}
