// node(id) hides what is inside a project the caller may not see by finding each Node type's
// project from its table (schema/node-access.ts). A Node type whose table has no project would be
// refused to everyone but a global ADMIN: this names it, so it cannot ship unnoticed.
import { isObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../schema/index.ts';
import { nodeTableOf } from '../../schema/node-access.ts';

describe('node(id) visibility', () => {
  it('finds the project of every Node type of the schema', () => {
    const nodeTypes = Object.values(schema.getTypeMap()).filter((t) => isObjectType(t) && t.getInterfaces().some((i) => i.name === 'Node'));
    expect(nodeTypes.length).toBeGreaterThan(5);
    expect(nodeTypes.filter((t) => nodeTableOf(schema, t.name) === null).map((t) => t.name)).toEqual([]);
  });

  it('knows no table for types that are not nodes', () => {
    expect(nodeTableOf(schema, 'Viewer')).toBeNull();
    expect(nodeTableOf(schema, 'NoSuchType')).toBeNull();
  });
});
