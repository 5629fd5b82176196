// End-to-end encryption on the wire with the real Rust crypto (matrix-sdk-crypto
// through @matrix-org/matrix-sdk-crypto-wasm, the crate Element X and Element Web
// run): an OlmMachine per device sends exactly the requests it generates — key
// uploads, queries, claims, cross-signing bootstrap, signature uploads, to-device
// room keys, backups — to the real server, and reads /sync back into the machine.
import * as Crypto from "@matrix-org/matrix-sdk-crypto-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { type Credentials, fetchJson, register, uniqueName, useServer } from "./harness.js";

const hs = useServer();
const PASSWORD = "correct horse battery staple";

interface Peer {
  creds: Credentials;
  machine: Crypto.OlmMachine;
  since?: string;
}

async function http<T = Record<string, unknown>>(p: Peer, method: string, path: string, body?: string) {
  const r = await fetchJson<T>(hs.baseUrl, path, {
    method,
    token: p.creds.accessToken,
    ...(body !== undefined ? { body, headers: { "Content-Type": "application/json" } } : {}),
  });
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r;
}

/** Sends one outgoing request of the machine and reports the response back to it. */
async function send(p: Peer, req: Crypto.OutgoingRequest | Crypto.ToDeviceRequest): Promise<void> {
  const V3 = "/_matrix/client/v3";
  let r;
  if (req instanceof Crypto.KeysUploadRequest) r = await http(p, "POST", `${V3}/keys/upload`, req.body);
  else if (req instanceof Crypto.KeysQueryRequest) r = await http(p, "POST", `${V3}/keys/query`, req.body);
  else if (req instanceof Crypto.KeysClaimRequest) r = await http(p, "POST", `${V3}/keys/claim`, req.body);
  else if (req instanceof Crypto.SignatureUploadRequest) r = await http(p, "POST", `${V3}/keys/signatures/upload`, req.body);
  else if (req instanceof Crypto.ToDeviceRequest) {
    r = await http(p, "PUT", `${V3}/sendToDevice/${encodeURIComponent(req.event_type)}/${encodeURIComponent(req.txn_id)}`, req.body);
  } else if (req instanceof Crypto.KeysBackupRequest) r = await http(p, "PUT", `${V3}/room_keys/keys?version=${encodeURIComponent(req.version)}`, req.body);
  else throw new Error(`unexpected request ${req.constructor.name}`);
  if (req.id) await p.machine.markRequestAsSent(req.id, req.type, JSON.stringify(r.body));
}

async function flush(p: Peer): Promise<void> {
  for (const req of await p.machine.outgoingRequests()) await send(p, req as Crypto.OutgoingRequest);
}

type SyncBody = {
  next_batch: string;
  to_device?: { events: unknown[] };
  device_lists?: { changed: string[]; left: string[] };
  device_one_time_keys_count?: Record<string, number>;
  device_unused_fallback_key_types?: string[];
};

/** One /sync (no wait) fed into the machine, then the machine's requests sent. */
async function sync(p: Peer): Promise<{ body: SyncBody; processed: Crypto.ProcessedToDeviceEvent[] }> {
  const q = p.since ? `?since=${p.since}&timeout=0` : "?timeout=0";
  const { body } = await http<SyncBody>(p, "GET", `/_matrix/client/v3/sync${q}`);
  p.since = body.next_batch;
  const processed = await p.machine.receiveSyncChanges(
    JSON.stringify(body.to_device?.events ?? []),
    new Crypto.DeviceLists((body.device_lists?.changed ?? []).map((u) => new Crypto.UserId(u)), (body.device_lists?.left ?? []).map((u) => new Crypto.UserId(u))),
    new Map(Object.entries(body.device_one_time_keys_count ?? {})),
    new Set(body.device_unused_fallback_key_types ?? []),
  );
  await flush(p);
  return { body, processed };
}

async function peer(prefix: string): Promise<Peer> {
  const creds = await register(hs.baseUrl, uniqueName(prefix), PASSWORD);
  const machine = await Crypto.OlmMachine.initialize(new Crypto.UserId(creds.userId), new Crypto.DeviceId(creds.deviceId));
  const p: Peer = { creds, machine };
  await sync(p);
  return p;
}

/** The machine's cross-signing bootstrap, sent in the order the SDK sends it. */
async function bootstrapCrossSigning(p: Peer): Promise<void> {
  const reqs = await p.machine.bootstrapCrossSigning(true);
  if (reqs.uploadKeysRequest) await send(p, reqs.uploadKeysRequest);
  await http(p, "POST", "/_matrix/client/v3/keys/device_signing/upload", reqs.uploadSigningKeysRequest.body);
  await http(p, "POST", "/_matrix/client/v3/keys/signatures/upload", reqs.uploadSignaturesRequest.body);
}

beforeAll(async () => {
  await Crypto.initAsync();
});

describe("Rust crypto (matrix-sdk-crypto) against the E2EE endpoints", () => {
  it("uploads device keys, one-time keys and a fallback key; /sync reports the counts", async () => {
    const alice = await peer("keys");
    const { body } = await sync(alice);
    expect(body.device_one_time_keys_count?.signed_curve25519).toBe(50);
    expect(body.device_unused_fallback_key_types).toEqual(["signed_curve25519"]);
    const q = await http<{ device_keys: Record<string, Record<string, { keys: Record<string, string> }>> }>(alice, "POST", "/_matrix/client/v3/keys/query", JSON.stringify({ device_keys: { [alice.creds.userId]: [] } }));
    const keys = q.body.device_keys[alice.creds.userId]![alice.creds.deviceId]!.keys;
    expect(keys[`ed25519:${alice.creds.deviceId}`]).toBe(alice.machine.identityKeys.ed25519.toBase64());
    expect(keys[`curve25519:${alice.creds.deviceId}`]).toBe(alice.machine.identityKeys.curve25519.toBase64());
  });

  it("bootstraps cross-signing; the own device and the other user's view are cross-signed", async () => {
    const alice = await peer("xs");
    const bob = await peer("xsbob");
    await bootstrapCrossSigning(alice);
    const status = await alice.machine.crossSigningStatus();
    expect([status.hasMaster, status.hasSelfSigning, status.hasUserSigning]).toEqual([true, true, true]);
    // Alice's own view after a key query: her device carries her self-signing signature.
    await alice.machine.updateTrackedUsers([new Crypto.UserId(alice.creds.userId)]);
    await sync(alice);
    const own = await alice.machine.getDevice(new Crypto.UserId(alice.creds.userId), new Crypto.DeviceId(alice.creds.deviceId));
    expect(own?.isCrossSignedByOwner()).toBe(true);
    expect(own?.isCrossSigningTrusted()).toBe(true);
    // Bob's view.
    await bob.machine.updateTrackedUsers([new Crypto.UserId(alice.creds.userId)]);
    await flush(bob);
    expect(await bob.machine.getIdentity(new Crypto.UserId(alice.creds.userId))).toBeDefined();
    const seen = await bob.machine.getDevice(new Crypto.UserId(alice.creds.userId), new Crypto.DeviceId(alice.creds.deviceId));
    expect(seen?.isCrossSignedByOwner()).toBe(true);
  });

  it("verifies another user (user-signing signature) and resets cross-signing with the password", async () => {
    const alice = await peer("verify");
    const bob = await peer("verifybob");
    await bootstrapCrossSigning(alice);
    await bootstrapCrossSigning(bob);
    await alice.machine.updateTrackedUsers([new Crypto.UserId(bob.creds.userId)]);
    await flush(alice);
    const bobIdentity = (await alice.machine.getIdentity(new Crypto.UserId(bob.creds.userId))) as Crypto.OtherUserIdentity;
    expect(bobIdentity.isVerified()).toBe(false);
    await send(alice, await bobIdentity.verify());
    // Alice's next sync reports Bob as changed (her signature is visible to her only); a fresh query keeps him verified.
    const { body } = await sync(alice);
    expect(body.device_lists?.changed).toContain(bob.creds.userId);
    const again = (await alice.machine.getIdentity(new Crypto.UserId(bob.creds.userId))) as Crypto.OtherUserIdentity;
    expect(again.isVerified()).toBe(true);

    // A reset replaces existing keys: 401 until the password is given.
    const reqs = await alice.machine.bootstrapCrossSigning(true);
    const path = "/_matrix/client/v3/keys/device_signing/upload";
    const challenge = await fetchJson<{ session: string; flows: unknown[] }>(hs.baseUrl, path, { method: "POST", token: alice.creds.accessToken, body: reqs.uploadSigningKeysRequest.body, headers: { "Content-Type": "application/json" } });
    expect(challenge.status).toBe(401);
    const withAuth = { ...JSON.parse(reqs.uploadSigningKeysRequest.body), auth: { type: "m.login.password", identifier: { type: "m.id.user", user: alice.creds.userId }, password: PASSWORD, session: challenge.body.session } };
    await http(alice, "POST", path, JSON.stringify(withAuth));
    await http(alice, "POST", "/_matrix/client/v3/keys/signatures/upload", reqs.uploadSignaturesRequest.body);
    await bob.machine.updateTrackedUsers([new Crypto.UserId(alice.creds.userId)]);
    await flush(bob);
    const seen = await bob.machine.getDevice(new Crypto.UserId(alice.creds.userId), new Crypto.DeviceId(alice.creds.deviceId));
    expect(seen?.isCrossSignedByOwner()).toBe(true);
  });

  it("claims a one-time key, shares a Megolm key over to-device, and the other side decrypts", async () => {
    const alice = await peer("olm");
    const bob = await peer("olmbob");
    // wasm-bindgen takes ownership of ids passed in arrays: a fresh one per call.
    const bobId = () => new Crypto.UserId(bob.creds.userId);
    await alice.machine.updateTrackedUsers([bobId()]);
    await flush(alice);
    const claim = await alice.machine.getMissingSessions([bobId()]);
    expect(claim).toBeDefined();
    await send(alice, claim!);
    expect(await alice.machine.getMissingSessions([bobId()])).toBeFalsy();
    const roomId = new Crypto.RoomId("!e2ee:localhost");
    for (const req of await alice.machine.shareRoomKey(roomId, [bobId()], new Crypto.EncryptionSettings())) await send(alice, req);
    const content = await alice.machine.encryptRoomEvent(roomId, "m.room.message", JSON.stringify({ msgtype: "m.text", body: "hello e2ee" }));

    const { processed, body } = await sync(bob);
    expect(body.to_device?.events).toHaveLength(1);
    expect(processed.map((e) => e.type)).toEqual([Crypto.ProcessedToDeviceEventType.Decrypted]);
    expect(body.device_one_time_keys_count?.signed_curve25519).toBe(49);
    const event = { type: "m.room.encrypted", content: JSON.parse(content), sender: alice.creds.userId, event_id: "$e2ee", origin_server_ts: Date.now(), room_id: roomId.toString() };
    const decrypted = await bob.machine.decryptRoomEvent(JSON.stringify(event), roomId, new Crypto.DecryptionSettings(Crypto.TrustRequirement.Untrusted));
    expect(JSON.parse(decrypted.event).content.body).toBe("hello e2ee");
    // The next sync acknowledges the to-device message: it is not delivered again.
    expect((await sync(bob)).body.to_device?.events ?? []).toHaveLength(0);
  });

  it("creates a signed backup the machine trusts and backs up room keys into it", async () => {
    const alice = await peer("backup");
    await bootstrapCrossSigning(alice);
    const key = Crypto.BackupDecryptionKey.createRandomKey();
    const publicKey = key.megolmV1PublicKey.publicKeyBase64;
    const authData: Record<string, unknown> = { public_key: publicKey };
    const signatures = await alice.machine.sign(JSON.stringify(authData));
    authData.signatures = JSON.parse(signatures.asJSON());
    const created = await http<{ version: string }>(alice, "POST", "/_matrix/client/v3/room_keys/version", JSON.stringify({ algorithm: "m.megolm_backup.v1.curve25519-aes-sha2", auth_data: authData }));
    const info = (await http(alice, "GET", "/_matrix/client/v3/room_keys/version")).body;
    expect(info).toMatchObject({ version: created.body.version, count: 0, etag: "0", auth_data: authData });
    expect((await alice.machine.verifyBackup(info)).trusted()).toBe(true);

    await alice.machine.enableBackupV1(publicKey, created.body.version);
    const roomId = new Crypto.RoomId("!backup:localhost");
    await alice.machine.shareRoomKey(roomId, [], new Crypto.EncryptionSettings());
    const backup = await alice.machine.backupRoomKeys();
    expect(backup).toBeDefined();
    await send(alice, backup!);
    const after = (await http<{ count: number; etag: string }>(alice, "GET", "/_matrix/client/v3/room_keys/version")).body;
    expect(after.count).toBe(1);
    const keys = (await http<{ rooms: Record<string, { sessions: Record<string, { session_data: Record<string, string> }> }> }>(alice, "GET", `/_matrix/client/v3/room_keys/keys?version=${created.body.version}`)).body;
    const [sessionId, stored] = Object.entries(keys.rooms[roomId.toString()]!.sessions)[0]!;
    const plain = JSON.parse(key.decryptV1(stored.session_data.ephemeral!, stored.session_data.mac!, stored.session_data.ciphertext!));
    expect(plain.session_key).toBeTruthy();
    expect(plain.algorithm).toBe("m.megolm.v1.aes-sha2");
    expect(sessionId).toBeTruthy();
  });
});
