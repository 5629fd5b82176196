// Types of the Worker under test as seen from `cloudflare:workers` inside the pool.
declare namespace Cloudflare {
  interface Env extends import("../../workers/env.js").Env {}
  interface Exports {
    default: Fetcher;
  }
}
