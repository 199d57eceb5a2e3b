// The baseline of bench/query.ts: a bare Yoga on the same schema answering the same JSON from
// memory (no database, no auth, no limits). Usage: tsx bench/bare-yoga.ts <port> <json-file>
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { buildSchema } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';

const [port, file] = process.argv.slice(2);
const data = JSON.parse(readFileSync(file!, 'utf8'));
const root = { project: () => data.project };
const sdl = readFileSync(join(import.meta.dirname, '..', 'schema', 'schema.graphql'), 'utf8');
const yoga = createYoga({
  schema: buildSchema(sdl),
  plugins: [
    <Plugin>{
      onExecute({ executeFn, setExecuteFn }) {
        setExecuteFn((args) => executeFn({ ...args, rootValue: root }));
      },
    },
  ],
  graphiql: false,
  logging: false,
});
createServer(yoga).listen(Number(port), '127.0.0.1', () => console.log('ready'));
