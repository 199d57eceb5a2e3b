/** A bad configuration value: the start stops with this one line, which names the variable. */
export class ConfigError extends Error {}
