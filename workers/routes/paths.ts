/**
 * Client-server endpoints are served under `/v3` and, as Synapse still does for
 * older clients, under `/r0`. The literal type keeps Hono's typed path params.
 */
export function clientV3<P extends string>(path: P): `/_matrix/client/:apiVersion{v3|r0}${P}` {
  return `/_matrix/client/:apiVersion{v3|r0}${path}`;
}
