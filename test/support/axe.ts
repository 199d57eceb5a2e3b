// WCAG 2.1 AA in the browser tests: axe-core run on the page as it stands (@axe-core/playwright),
// failing on any serious or critical violation, with each violation's rule, impact and the
// elements it found, so the failure says what to fix.
import AxeBuilder from '@axe-core/playwright';
import type { Page } from 'playwright-core';

const WCAG_21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

export interface AxeFinding {
  id: string;
  impact: string | null | undefined;
  help: string;
  targets: string[];
}

/** The serious and critical WCAG 2.1 A/AA violations on `page` now (optionally within `include`). */
export async function axeViolations(page: Page, include?: string): Promise<AxeFinding[]> {
  let builder = new AxeBuilder({ page }).withTags(WCAG_21_AA);
  if (include) builder = builder.include(include);
  const { violations } = await builder.analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
}

/** Throws, naming every finding, when `page` has a serious or critical WCAG 2.1 AA violation. */
export async function expectAccessible(page: Page, label: string): Promise<void> {
  const findings = await axeViolations(page);
  if (findings.length > 0) {
    const lines = findings.map((f) => `  ${f.impact} ${f.id}: ${f.help}\n    ${f.targets.slice(0, 5).join('\n    ')}`);
    throw new Error(`axe: ${findings.length} serious/critical WCAG 2.1 AA violation(s) on ${label}:\n${lines.join('\n')}`);
  }
}
