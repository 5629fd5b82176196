import type { Env } from "./env.js";

/**
 * Wakes the /sync long-polls of local users after a write at stream position
 * `pos` concerns them (one User DO call each; failures only delay a wake-up,
 * the next sync still reads D1).
 */
export async function notifyUsers(env: Env, userIds: Iterable<string>, pos: number): Promise<void> {
  await Promise.all(
    [...new Set(userIds)].map((u) =>
      env.USER.getByName(u)
        .notify(pos)
        .catch((e: unknown) => console.error(`notify ${u} failed`, e)),
    ),
  );
}
