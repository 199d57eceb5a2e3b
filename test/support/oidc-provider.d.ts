// oidc-provider ships no type declarations (and @types/oidc-provider is not installed): the e2e
// test that starts one uses it untyped.
declare module 'oidc-provider' {
  const Provider: any;
  export default Provider;
}
