// The public id of a stored object: what clients, webhook receivers and error messages see. It is
// the GraphQL global id (base64 of `Type:uuid`, as @pothos/plugin-relay encodes it), defined here
// so that code outside the GraphQL layer names objects the way clients know them.
export const publicId = (typename: string, id: string) => Buffer.from(`${typename}:${id}`, 'utf8').toString('base64');
