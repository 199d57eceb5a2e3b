import type { ReactNode } from 'react';

/**
 * A table wider than the screen scrolls inside this box. The box takes focus so it can be
 * scrolled by keyboard as well (WCAG 2.1.1; axe's scrollable-region-focusable), and is named so a
 * screen reader says what the focus landed on. A group, not a region: pages keep their landmarks.
 */
export function ScrollBox({ label, children }: { label: string; children: ReactNode }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable box must be reachable by keyboard (WCAG 2.1.1).
    // biome-ignore lint/a11y/useSemanticElements: a fieldset is for form controls; this groups a table.
    <div className="table-scroll" tabIndex={0} role="group" aria-label={label}>
      {children}
    </div>
  );
}
