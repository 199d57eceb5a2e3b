export * from './api-tokens.ts';
export * from './audit.ts';
export * from './database-connections.ts';
export * from './deployments.ts';
export * from './environments.ts';
export * from './project-access.ts';
export * from './projects.ts';
export * from './secrets.ts';
