export * from './audit.ts';
export * from './deployments.ts';
export * from './environments.ts';
export * from './projects.ts';
export * from './secrets.ts';
