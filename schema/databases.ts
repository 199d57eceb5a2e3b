// Database connections: named connections of a project and their per-environment values.
import { CreateDatabaseConnectionInputSchema, parseInput, SetDatabaseConnectionValueInputSchema } from '../domain/validation.ts';
import { DATABASE_TYPES } from '../domain/values.ts';
import { createDatabaseConnection, setDatabaseConnectionValue } from '../services/databases.ts';
import { builder, localId } from './builder.ts';
import { scopeOf } from './context.ts';
import { EnvironmentRef } from './environments.ts';
import { ProjectRef } from './projects.ts';

const DatabaseTypeEnum = builder.enumType('DatabaseType', { values: DATABASE_TYPES });

export const DatabaseConnectionRef = builder.drizzleNode('databaseConnections', {
  name: 'DatabaseConnection',
  id: { column: (c) => c.id },
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.expose('type', { type: DatabaseTypeEnum }),
    values: t.relation('values', { query: { orderBy: { updatedAt: 'asc' } } }),
  }),
});

export const DatabaseConnectionValueRef = builder.drizzleObject('databaseConnectionValues', {
  name: 'DatabaseConnectionValue',
  fields: (t) => ({
    connection: t.relation('connection'),
    environment: t.relation('environment'),
    host: t.exposeString('host'),
    port: t.exposeInt('port', { description: '5432 where not given' }),
    database: t.exposeString('database'),
    user: t.exposeString('user', { nullable: true }),
    ssl: t.exposeBoolean('ssl'),
    poolSize: t.exposeInt('poolSize'),
    passwordSecret: t.relation('passwordSecret', {
      nullable: true,
      description: 'the secret that holds the password, never the password',
    }),
  }),
});

builder.drizzleObjectFields(ProjectRef, (t) => ({
  databaseConnections: t.relation('databaseConnections', { query: { orderBy: { name: 'asc' } } }),
}));
builder.drizzleObjectFields(EnvironmentRef, (t) => ({
  databases: t.relation('databaseValues', { type: DatabaseConnectionValueRef, query: { orderBy: { updatedAt: 'asc' } } }),
}));

const CreateDatabaseConnectionInput = builder.inputType('CreateDatabaseConnectionInput', {
  fields: (t) => ({
    projectId: t.id({ required: true }),
    name: t.string({ required: true }),
    type: t.field({ type: DatabaseTypeEnum, defaultValue: 'POSTGRES' }),
  }),
});
const SetDatabaseConnectionValueInput = builder.inputType('SetDatabaseConnectionValueInput', {
  fields: (t) => ({
    connectionId: t.id({ required: true }),
    environment: t.string({ required: true, description: 'slug' }),
    host: t.string({ required: true }),
    port: t.int(),
    database: t.string({ required: true }),
    user: t.string(),
    ssl: t.boolean(),
    poolSize: t.int(),
    passwordSecret: t.string({ description: 'name of a secret of the project' }),
  }),
});

builder.mutationFields((t) => ({
  createDatabaseConnection: t.drizzleField({
    type: 'databaseConnections',
    args: { input: t.arg({ type: CreateDatabaseConnectionInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(CreateDatabaseConnectionInputSchema, args.input, 'input');
      return createDatabaseConnection(scopeOf(ctx), localId(args.input.projectId, 'Project'), input, (tx, id) =>
        tx.query.databaseConnections.findFirst(query({ where: { id } })),
      );
    },
  }),

  setDatabaseConnectionValue: t.drizzleField({
    type: DatabaseConnectionValueRef,
    args: { input: t.arg({ type: SetDatabaseConnectionValueInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(SetDatabaseConnectionValueInputSchema, args.input, 'input');
      return setDatabaseConnectionValue(scopeOf(ctx), localId(args.input.connectionId, 'DatabaseConnection'), input, (tx, id) =>
        tx.query.databaseConnectionValues.findFirst(query({ where: { id } })),
      );
    },
  }),
}));
