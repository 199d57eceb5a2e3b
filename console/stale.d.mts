/** Whether console/dist (or `dist`) is missing or older than a source it is built from. */
export function isStale(dist?: string): boolean;
/** Whether the console's sources are here at all. */
export function hasSources(): boolean;
