// `npm run token -- --sub alice --roles ADMIN,QA [--expires 12h]`: prints a JWT for local use,
// signed with JWT_SECRET (or the development secret in DATA_DIR that `npm start` uses).
import { parseArgs } from 'node:util';
import type { Role } from '../domain/types.ts';
import { ROLES } from '../domain/values.ts';
import { signToken } from '../server/auth.ts';
import { ConfigError, loadConfig } from '../config/index.ts';

const usage = 'usage: npm run token -- --sub <subject> --roles <ROLE[,ROLE...]> [--expires 12h]';
try {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      roles: { type: 'string' },
      expires: { type: 'string', default: '12h' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(`${usage}\nroles: ${ROLES.join(', ')}`);
    process.exit(0);
  }
  if (!values.sub || !values.roles) throw new Error(usage);
  const roles = values.roles.split(',').map((r) => r.trim().toUpperCase());
  const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (unknown.length) throw new Error(`unknown role ${unknown.join(', ')}; roles are ${ROLES.join(', ')}`);
  if (!/^\d+[smhdw]$/.test(values.expires)) throw new Error('--expires takes a duration such as 30m, 12h or 7d');
  const config = loadConfig();
  if (config.jwtSecretGeneratedAt) console.error(`Generated a development JWT secret in ${config.jwtSecretGeneratedAt}`);
  console.log(await signToken(config.jwtSecret, values.sub, roles as Role[], values.expires));
} catch (error) {
  console.error(`token: ${error instanceof ConfigError ? error.message : (error as Error).message}`);
  process.exit(2);
}
