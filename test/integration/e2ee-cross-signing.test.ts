import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../src/json.js";
import { deviceListsSince } from "../../workers/e2ee/device-lists.js";
import { crossSigningKey, ed25519Pair, makeCrossSigning, sign, type TestCrossSigning } from "../fixtures/e2ee.js";
import { createRoom, joinRoom, post, streamPos, uploadDevice } from "./e2ee-helpers.js";
import { login, registerUser, type TestUser } from "./helpers.js";

type Query = {
  device_keys: Record<string, Record<string, JsonObject>>;
  master_keys: Record<string, JsonObject>;
  self_signing_keys: Record<string, JsonObject>;
  user_signing_keys: Record<string, JsonObject>;
};
type Failures = { failures: Record<string, Record<string, { errcode: string; error: string }>> };

const upload = (u: TestUser, body: unknown) => post("/keys/device_signing/upload", u.accessToken, body);
const bootstrap = (u: TestUser, cs: TestCrossSigning) =>
  upload(u, { master_key: cs.masterKey, self_signing_key: cs.selfSigningKey, user_signing_key: cs.userSigningKey });
const query = (u: TestUser, users: string[]) => post<Query>("/keys/query", u.accessToken, { device_keys: Object.fromEntries(users.map((x) => [x, []])) });
const passwordAuth = (u: TestUser, password = u.password) => ({ type: "m.login.password", identifier: { type: "m.id.user", user: u.userId }, password });
const sigs = (obj: JsonObject | undefined, user: string) => ((obj?.signatures as JsonObject | undefined)?.[user] ?? {}) as Record<string, string>;

describe("POST /keys/device_signing/upload", () => {
  it("takes the first upload without UIA and shows the user-signing key to its owner only", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const cs = makeCrossSigning(alice.userId);
    const before = await streamPos();
    const r = await bootstrap(alice, cs);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({});
    const own = await query(alice, [alice.userId]);
    expect(own.body.master_keys[alice.userId]).toEqual(cs.masterKey);
    expect(own.body.self_signing_keys[alice.userId]).toEqual(cs.selfSigningKey);
    expect(own.body.user_signing_keys[alice.userId]).toEqual(cs.userSigningKey);
    const theirs = await query(bob, [alice.userId]);
    expect(theirs.body.master_keys[alice.userId]).toEqual(cs.masterKey);
    expect(theirs.body.self_signing_keys[alice.userId]).toEqual(cs.selfSigningKey);
    expect(theirs.body.user_signing_keys).toEqual({});
    // A device-list change for everyone (master, self-signing) and one only for Alice (user-signing).
    const rows = await env.DB.prepare("SELECT only_for FROM device_list_changes WHERE user_id = ? AND stream_pos > ? ORDER BY id").bind(alice.userId, before).all();
    expect(rows.results).toEqual([{ only_for: null }, { only_for: alice.userId }]);
    expect((await deviceListsSince(env.DB, alice.userId, before, await streamPos())).changed).toEqual([alice.userId]);
  });

  it("takes an identical re-upload without UIA; a replacement needs the password", async () => {
    const alice = await registerUser();
    const cs = makeCrossSigning(alice.userId);
    await bootstrap(alice, cs);
    const before = await streamPos();
    expect((await bootstrap(alice, cs)).status).toBe(200);
    expect((await upload(alice, { self_signing_key: cs.selfSigningKey })).status).toBe(200);
    expect(await streamPos()).toBe(before);

    const next = makeCrossSigning(alice.userId);
    const challenge = await bootstrap(alice, next);
    expect(challenge.status).toBe(401);
    expect(challenge.body.flows).toEqual([{ stages: ["m.login.password"] }]);
    expect(challenge.body).not.toHaveProperty("errcode");
    const wrong = await upload(alice, {
      master_key: next.masterKey,
      self_signing_key: next.selfSigningKey,
      auth: { ...passwordAuth(alice, "wrong"), session: challenge.body.session },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.errcode).toBe("M_FORBIDDEN");
    expect((await query(alice, [alice.userId])).body.master_keys[alice.userId]).toEqual(cs.masterKey);
    // matrix-rust-sdk sends the password inline without a session after a password login.
    const ok = await upload(alice, { master_key: next.masterKey, self_signing_key: next.selfSigningKey, user_signing_key: next.userSigningKey, auth: passwordAuth(alice) });
    expect(ok.status).toBe(200);
    expect((await query(alice, [alice.userId])).body.master_keys[alice.userId]).toEqual(next.masterKey);
    // A new self-signing key alone must be signed by the stored master key.
    const ssk2 = sign(crossSigningKey(alice.userId, "self_signing", ed25519Pair()), alice.userId, `ed25519:${next.master.pub}`, next.master.seed);
    const c2 = await upload(alice, { self_signing_key: ssk2 });
    expect(c2.status).toBe(401);
    expect((await upload(alice, { self_signing_key: ssk2, auth: { ...passwordAuth(alice), session: c2.body.session } })).status).toBe(200);
    expect((await query(alice, [alice.userId])).body.self_signing_keys[alice.userId]).toEqual(ssk2);
  });

  it("refuses invalid keys and signatures with 400s, and keys named like a device with 403", async () => {
    const alice = await registerUser();
    const cs = makeCrossSigning(alice.userId);
    const other = makeCrossSigning(alice.userId);
    const cases: [unknown, string][] = [
      [{ self_signing_key: cs.selfSigningKey }, "M_MISSING_PARAM"],
      [{}, "M_MISSING_PARAM"],
      [{ master_key: cs.masterKey, self_signing_key: other.selfSigningKey }, "M_INVALID_SIGNATURE"],
      [{ master_key: cs.masterKey, user_signing_key: crossSigningKey(alice.userId, "user_signing", ed25519Pair()) }, "M_INVALID_SIGNATURE"],
      [{ master_key: { ...cs.masterKey, user_id: "@bob:localhost:8008" } }, "M_INVALID_PARAM"],
      [{ master_key: { ...cs.masterKey, usage: ["self_signing"] } }, "M_INVALID_PARAM"],
      [{ master_key: cs.masterKey, self_signing_key: { ...cs.selfSigningKey, usage: ["master"] } }, "M_INVALID_PARAM"],
      [{ master_key: "key" }, "M_BAD_JSON"],
    ];
    for (const [body, errcode] of cases) {
      const r = await upload(alice, body);
      expect(r.status, JSON.stringify(body).slice(0, 100)).toBe(400);
      expect(r.body.errcode, JSON.stringify(body).slice(0, 100)).toBe(errcode);
    }
    expect((await query(alice, [alice.userId])).body.master_keys).toEqual({});
    // A device whose id is the master public key.
    const clash = await login(alice.userId, alice.password, { device_id: cs.master.pub });
    expect(clash.status).toBe(200);
    const r = await bootstrap(alice, cs);
    expect(r.status).toBe(403);
    expect(r.body.errcode).toBe("M_FORBIDDEN");
    const guest = await post<{ access_token: string }>("/register?kind=guest", "", {});
    expect((await post("/keys/device_signing/upload", guest.body.access_token, { master_key: cs.masterKey })).status).toBe(403);
  });
});

describe("POST /keys/signatures/upload", () => {
  async function setup() {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const { dev: aliceDev } = await uploadDevice(alice);
    const { dev: bobDev } = await uploadDevice(bob);
    const acs = makeCrossSigning(alice.userId);
    const bcs = makeCrossSigning(bob.userId);
    await bootstrap(alice, acs);
    await bootstrap(bob, bcs);
    return { alice, bob, carol, aliceDev, bobDev, acs, bcs };
  }

  it("stores a device signature by the self-signing key and a master key signature by a device, merged into /keys/query", async () => {
    const { alice, bob, aliceDev, acs } = await setup();
    const sskId = `ed25519:${acs.selfSigning.pub}`;
    const deviceSigned = sign(aliceDev.keys, alice.userId, sskId, acs.selfSigning.seed);
    const masterSigned = sign(acs.masterKey, alice.userId, `ed25519:${alice.deviceId}`, aliceDev.ed.seed);
    const before = await streamPos();
    const r = await post<Failures>("/keys/signatures/upload", alice.accessToken, {
      [alice.userId]: { [alice.deviceId]: deviceSigned, [acs.master.pub]: masterSigned },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ failures: {} });
    for (const viewer of [alice, bob]) {
      const q = await query(viewer, [alice.userId]);
      const dev = q.body.device_keys[alice.userId]![alice.deviceId]!;
      expect(sigs(dev, alice.userId)[sskId]).toBe(deviceSigned.signatures[alice.userId]![sskId]);
      expect(sigs(dev, alice.userId)[`ed25519:${alice.deviceId}`]).toBeDefined();
      expect(sigs(q.body.master_keys[alice.userId], alice.userId)[`ed25519:${alice.deviceId}`]).toBe(
        masterSigned.signatures[alice.userId]![`ed25519:${alice.deviceId}`],
      );
    }
    expect((await deviceListsSince(env.DB, alice.userId, before, await streamPos())).changed).toEqual([alice.userId]);
  });

  it("shows a user-signing signature of another user's master key to the signer only", async () => {
    const { alice, bob, carol, acs, bcs } = await setup();
    const uskId = `ed25519:${acs.userSigning.pub}`;
    const signed = sign(bcs.masterKey, alice.userId, uskId, acs.userSigning.seed);
    const before = await streamPos();
    const r = await post<Failures>("/keys/signatures/upload", alice.accessToken, { [bob.userId]: { [bcs.master.pub]: signed } });
    expect(r.body).toEqual({ failures: {} });
    expect(sigs((await query(alice, [bob.userId])).body.master_keys[bob.userId], alice.userId)[uskId]).toBe(signed.signatures[alice.userId]![uskId]);
    expect((await query(bob, [bob.userId])).body.master_keys[bob.userId]).toEqual(bcs.masterKey);
    expect((await query(carol, [bob.userId])).body.master_keys[bob.userId]).toEqual(bcs.masterKey);
    // Alice hears about Bob; Bob and Carol hear nothing.
    const to = await streamPos();
    expect((await deviceListsSince(env.DB, alice.userId, before, to)).changed).toEqual([bob.userId]);
    expect((await deviceListsSince(env.DB, bob.userId, before, to)).changed).toEqual([]);
    expect((await deviceListsSince(env.DB, carol.userId, before, to)).changed).toEqual([]);
  });

  it("lists each bad entry in failures and stores the good ones", async () => {
    const { alice, bob, carol, aliceDev, acs, bcs } = await setup();
    const sskId = `ed25519:${acs.selfSigning.pub}`;
    const good = sign(aliceDev.keys, alice.userId, sskId, acs.selfSigning.seed);
    const forgedDevice = sign(aliceDev.keys, alice.userId, sskId, acs.userSigning.seed);
    const forgedMaster = sign(bcs.masterKey, alice.userId, `ed25519:${acs.userSigning.pub}`, acs.selfSigning.seed);
    const changedDevice = sign({ ...aliceDev.keys, algorithms: [] }, alice.userId, sskId, acs.selfSigning.seed);
    const r = await post<Failures>("/keys/signatures/upload", alice.accessToken, {
      [alice.userId]: { NOSUCHDEVICE: good },
      [bob.userId]: { [bcs.master.pub]: forgedMaster, NOTAKEY: forgedMaster },
      "@x:remote.example": { KEY: forgedMaster },
    });
    expect(r.status).toBe(200);
    expect(r.body.failures[alice.userId]!.NOSUCHDEVICE!.errcode).toBe("M_NOT_FOUND");
    expect(r.body.failures[bob.userId]![bcs.master.pub]!.errcode).toBe("M_INVALID_SIGNATURE");
    expect(r.body.failures[bob.userId]!.NOTAKEY!.errcode).toBe("M_NOT_FOUND");
    expect(r.body.failures["@x:remote.example"]!.KEY!.errcode).toBe("M_NOT_FOUND");
    for (const f of Object.values(r.body.failures).flatMap((m) => Object.values(m))) expect(Object.keys(f).sort()).toEqual(["errcode", "error"]);

    const mixed = await post<Failures>("/keys/signatures/upload", alice.accessToken, { [alice.userId]: { [alice.deviceId]: forgedDevice } });
    expect(mixed.body.failures[alice.userId]![alice.deviceId]!.errcode).toBe("M_INVALID_SIGNATURE");
    const wrongContent = await post<Failures>("/keys/signatures/upload", alice.accessToken, { [alice.userId]: { [alice.deviceId]: changedDevice } });
    expect(wrongContent.body.failures[alice.userId]![alice.deviceId]!.errcode).toBe("M_INVALID_PARAM");
    expect(sigs((await query(bob, [alice.userId])).body.device_keys[alice.userId]![alice.deviceId], alice.userId)).not.toHaveProperty(sskId);
    expect((await post<Failures>("/keys/signatures/upload", alice.accessToken, { [alice.userId]: { [alice.deviceId]: good } })).body).toEqual({ failures: {} });

    // Without cross-signing keys nothing can be signed.
    const { dev: carolDev } = await uploadDevice(carol);
    const noKeys = await post<Failures>("/keys/signatures/upload", carol.accessToken, {
      [carol.userId]: { [carol.deviceId]: carolDev.keys },
      [bob.userId]: { [bcs.master.pub]: bcs.masterKey },
    });
    expect(noKeys.body.failures[carol.userId]![carol.deviceId]!.errcode).toBe("M_NOT_FOUND");
    expect(noKeys.body.failures[bob.userId]![bcs.master.pub]!.errcode).toBe("M_NOT_FOUND");
    for (const body of [[], { [alice.userId]: "x" }, { [alice.userId]: { D: 5 } }]) {
      expect((await post("/keys/signatures/upload", alice.accessToken, body)).status, JSON.stringify(body)).toBe(400);
    }
  });

  it("a room member sees a cross-signing change of the other as a device-list change", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat" });
    await joinRoom(bob.accessToken, roomId);
    const before = await streamPos();
    await bootstrap(alice, makeCrossSigning(alice.userId));
    expect((await deviceListsSince(env.DB, bob.userId, before, await streamPos())).changed).toEqual([alice.userId]);
  });
});

describe("device ids and cross-signing keys", () => {
  it("login refuses a device_id that is one of the user's cross-signing key ids", async () => {
    const u = await registerUser(undefined, { password: "pw" });
    const cs = makeCrossSigning(u.userId);
    expect((await upload(u, { master_key: cs.masterKey, self_signing_key: cs.selfSigningKey, user_signing_key: cs.userSigningKey })).status).toBe(200);
    const r = await login(u.userId, "pw", { device_id: cs.master.pub });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ errcode: "M_INVALID_PARAM" });
    expect((await login(u.userId, "pw", { device_id: "ORDINARY" })).status).toBe(200);
  });
});
