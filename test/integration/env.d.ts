// Types of the Worker under test as seen from `cloudflare:workers` inside the pool.
import type { Env as WorkerEnv } from "../../services/env.js";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
    interface GlobalProps {
      mainModule: typeof import("../../workers/index.js");
    }
  }
}
