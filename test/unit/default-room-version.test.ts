import { describe, expect, it } from "vitest";
import type { Env } from "../../services/env.js";
import { getConfig } from "../../workers/config.js";

const env = (vars: Record<string, string>) => ({ SERVER_NAME: "example.org", PUBLIC_BASEURL: "https://example.org", ...vars }) as unknown as Env;

describe("DEFAULT_ROOM_VERSION", () => {
  it("is 10 unless configured, as Synapse and Dendrite", () => {
    expect(getConfig(env({})).defaultRoomVersion).toBe("10");
  });

  it("takes any version this server supports, and refuses others at startup", () => {
    expect(getConfig(env({ DEFAULT_ROOM_VERSION: "12" })).defaultRoomVersion).toBe("12");
    expect(() => getConfig(env({ DEFAULT_ROOM_VERSION: "13" }))).toThrow(/DEFAULT_ROOM_VERSION/);
  });
});
