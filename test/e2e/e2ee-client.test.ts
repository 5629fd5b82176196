/**
 * The E2EE acceptance test: real matrix-js-sdk MatrixClients with their Rust crypto
 * (initRustCrypto, the stack Element Web runs) against the real server.
 *
 * 1. Two users exchange Megolm-encrypted messages in an encrypted room, both ways.
 * 2. Alice bootstraps cross-signing and secret storage with a new recovery key and
 *    a new key backup; Carol replaces her cross-signing keys, which takes her password
 *    (UIA through authUploadDeviceSigningKeys).
 * 3. A room key is uploaded to that backup; a fresh login of Alice (new device, new
 *    crypto store) enters the recovery key, takes the backup key and the cross-signing
 *    keys out of secret storage, restores the backup and decrypts a message sent before
 *    it existed.
 *
 * Alice, Bob, their room and Alice's recovery key are shared: the tests run in order
 * (Carol's stands alone).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientEvent, EventType, MatrixError, type MatrixClient, type MatrixEvent, SyncState, type UIAuthCallback } from "matrix-js-sdk";
import { CrossSigningKey, decodeRecoveryKey, type CryptoCallbacks, type GeneratedSecretStorageKey } from "matrix-js-sdk/lib/crypto-api/index.js";
import { RustBackupManager } from "matrix-js-sdk/lib/rust-crypto/backup.js";
import { fetchJson, loginClient, registerClient, uniqueName, useServer, waitFor } from "./harness.js";

const hs = useServer();
const PASSWORD = "correct horse battery staple";
const V3 = "/_matrix/client/v3";

// The SDK starts its backup upload loop after a random delay of up to 10 s ("can be
// reduced in tests"): 100 ms keeps the test bounded.
const backupDelay = RustBackupManager as unknown as { maxBackupLoopStartDelayMillis: number };
const savedBackupDelay = backupDelay.maxBackupLoopStartDelayMillis;
beforeAll(() => {
  backupDelay.maxBackupLoopStartDelayMillis = 100;
});
afterAll(() => {
  backupDelay.maxBackupLoopStartDelayMillis = savedBackupDelay;
});

/**
 * The application side of secret storage: the keys the "user" knows, by key id.
 * `cacheSecretStorageKey` is how the SDK hands a newly created key to the app;
 * `getSecretStorageKey` is the SDK asking for one (answered with the default key).
 */
function secretStorageCallbacks(known: Map<string, Uint8Array<ArrayBuffer>>): CryptoCallbacks {
  return {
    getSecretStorageKey: async ({ keys }) => {
      for (const keyId of Object.keys(keys)) {
        const key = known.get(keyId);
        if (key) return [keyId, key];
      }
      return null;
    },
    cacheSecretStorageKey: (keyId, _info, key) => {
      known.set(keyId, key);
    },
  };
}

/** Starts the sync loop and waits for the first sync to be processed. */
async function started(client: MatrixClient): Promise<MatrixClient> {
  const ready = new Promise<void>((resolve, reject) => {
    const onSync = (state: SyncState) => {
      if (state === SyncState.Prepared || state === SyncState.Syncing) {
        client.off(ClientEvent.Sync, onSync);
        resolve();
      } else if (state === SyncState.Error) {
        client.off(ClientEvent.Sync, onSync);
        reject(new Error(`${client.getUserId()}: sync failed`));
      }
    };
    client.on(ClientEvent.Sync, onSync);
  });
  await client.startClient({ initialSyncLimit: 20 });
  await ready;
  return client;
}

/** Waits until `eventId` is in the client's room and decrypted; returns the event. */
async function decrypted(client: MatrixClient, roomId: string, eventId: string, timeoutMs = 15_000): Promise<MatrixEvent> {
  let last: MatrixEvent | null | undefined;
  try {
    return await waitFor(
      () => {
        last = client.getRoom(roomId)?.findEventById(eventId);
        return last && !last.isBeingDecrypted() && !last.isDecryptionFailure() && last.getClearContent() ? last : undefined;
      },
      { timeoutMs, what: `${client.getUserId()}/${client.getDeviceId()} decrypting ${eventId}` },
    );
  } catch (e) {
    const state = !last ? "not in the timeline" : `type ${last.getType()}, failure ${last.decryptionFailureReason ?? "none"}`;
    throw new Error(`${(e as Error).message} (${state})`);
  }
}

/** Waits until the event is in the room and its decryption attempt is over (whatever the result). */
async function settled(client: MatrixClient, roomId: string, eventId: string): Promise<MatrixEvent> {
  return waitFor(
    () => {
      const ev = client.getRoom(roomId)?.findEventById(eventId);
      return ev && !ev.isBeingDecrypted() && (ev.isDecryptionFailure() || ev.getClearContent()) ? ev : undefined;
    },
    { timeoutMs: 15_000, what: `${eventId} in ${client.getUserId()}/${client.getDeviceId()}'s timeline` },
  );
}

/** Raw authenticated GET that must succeed. */
async function get<T = Record<string, unknown>>(client: MatrixClient, path: string): Promise<T> {
  const r = await fetchJson<T>(hs.baseUrl, path, { token: client.getAccessToken()! });
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/**
 * What Element does for the cross-signing upload: try without auth; on a 401 that offers
 * m.login.password, complete that stage. `rounds` records each request's auth ("none"
 * or the stage).
 */
function passwordUia(client: MatrixClient, rounds: string[]): UIAuthCallback<void> {
  return async (makeRequest) => {
    try {
      rounds.push("none");
      await makeRequest(null);
    } catch (e) {
      if (!(e instanceof MatrixError) || e.httpStatus !== 401 || typeof e.data.session !== "string") throw e;
      const flows = (e.data.flows ?? []) as { stages: string[] }[];
      if (!flows.some((f) => f.stages.length === 1 && f.stages[0] === "m.login.password")) throw new Error(`no password flow: ${JSON.stringify(flows)}`);
      rounds.push("m.login.password");
      await makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: client.getUserId()! }, password: PASSWORD, session: e.data.session });
    }
  };
}

const accountData = (client: MatrixClient, type: string) =>
  get<Record<string, unknown>>(client, `${V3}/user/${encodeURIComponent(client.getUserId()!)}/account_data/${encodeURIComponent(type)}`);

describe("E2EE with matrix-js-sdk and its Rust crypto", () => {
  let aliceName: string;
  let alice: MatrixClient;
  let bob: MatrixClient;
  let roomId: string;
  const aliceKeys = new Map<string, Uint8Array<ArrayBuffer>>();
  let recoveryKey: GeneratedSecretStorageKey;
  /** Bob's message of the first test (its Megolm session is Bob's, received by Alice). */
  let bobsReply: string;

  beforeAll(async () => {
    aliceName = uniqueName("alice");
    [alice, bob] = await Promise.all([
      registerClient(hs.baseUrl, aliceName, PASSWORD, { crypto: true, clientOpts: { cryptoCallbacks: secretStorageCallbacks(aliceKeys) } }),
      registerClient(hs.baseUrl, uniqueName("bob"), PASSWORD, { crypto: true }),
    ]);
    await Promise.all([started(alice), started(bob)]);
    ({ room_id: roomId } = await alice.createRoom({
      name: "Encrypted",
      invite: [bob.getUserId()!],
      initial_state: [{ type: EventType.RoomEncryption, state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    }));
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === "invite", { what: "bob sees the invite" });
    await bob.joinRoom(roomId);
    await waitFor(() => alice.getRoom(roomId)?.getMember(bob.getUserId()!)?.membership === "join", { what: "alice sees bob join" });
    await waitFor(() => alice.getCrypto()!.isEncryptionEnabledInRoom(roomId), { what: "alice's crypto knows the room is encrypted" });
    await waitFor(() => bob.getCrypto()!.isEncryptionEnabledInRoom(roomId), { what: "bob's crypto knows the room is encrypted" });
  }, 60_000);

  it("two users exchange Megolm messages that decrypt on the other side, both ways", async () => {
    const sent = await alice.sendTextMessage(roomId, "hello bob, secretly");
    // The server only ever sees ciphertext.
    const raw = await get<{ type: string; content: Record<string, unknown> }>(alice, `${V3}/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(sent.event_id)}`);
    expect(raw.type).toBe("m.room.encrypted");
    expect(raw.content.algorithm).toBe("m.megolm.v1.aes-sha2");
    expect(JSON.stringify(raw.content)).not.toContain("hello bob");

    const atBob = await decrypted(bob, roomId, sent.event_id);
    expect(atBob.isEncrypted()).toBe(true);
    expect(atBob.isDecryptionFailure()).toBe(false);
    expect(atBob.getType()).toBe(EventType.RoomMessage);
    expect(atBob.getClearContent()?.body).toBe("hello bob, secretly");
    expect(atBob.getSender()).toBe(alice.getUserId());

    const reply = await bob.sendTextMessage(roomId, "hi alice, secretly");
    bobsReply = reply.event_id;
    const atAlice = await decrypted(alice, roomId, reply.event_id);
    expect(atAlice.isEncrypted()).toBe(true);
    expect(atAlice.isDecryptionFailure()).toBe(false);
    expect(atAlice.getClearContent()?.body).toBe("hi alice, secretly");
  });

  it("bootstraps cross-signing and secret storage with a new recovery key and key backup", async () => {
    const crypto = alice.getCrypto()!;
    const aliceRounds: string[] = [];
    await crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordUia(alice, aliceRounds) });
    expect(await crypto.isCrossSigningReady()).toBe(true);
    // The first master key needs no UIA (spec v1.11): one request, no 401.
    expect(aliceRounds).toEqual(["none"]);

    await crypto.bootstrapSecretStorage({
      createSecretStorageKey: async () => (recoveryKey = await crypto.createRecoveryKeyFromPassphrase()),
      setupNewKeyBackup: true,
    });
    expect(recoveryKey?.encodedPrivateKey).toBeTruthy();
    expect(aliceKeys.size).toBe(1);
    expect(await crypto.isSecretStorageReady()).toBe(true);
    const status = await crypto.getCrossSigningStatus();
    expect(status).toMatchObject({ publicKeysOnDevice: true, privateKeysInSecretStorage: true });
    expect(status.privateKeysCachedLocally).toEqual({ masterKey: true, selfSigningKey: true, userSigningKey: true });

    // The server holds the three cross-signing keys, as the SDK made them.
    const q = await alice.downloadKeysForUsers([alice.getUserId()!]);
    const me = alice.getUserId()!;
    const masterId = await crypto.getCrossSigningKeyId(CrossSigningKey.Master);
    expect(masterId).toBeTruthy();
    expect(Object.values(q.master_keys?.[me]?.keys ?? {})).toEqual([masterId]);
    expect(Object.values(q.self_signing_keys?.[me]?.keys ?? {})).toEqual([await crypto.getCrossSigningKeyId(CrossSigningKey.SelfSigning)]);
    expect(Object.values(q.user_signing_keys?.[me]?.keys ?? {})).toEqual([await crypto.getCrossSigningKeyId(CrossSigningKey.UserSigning)]);
    // The device is signed by the self-signing key.
    const selfSigningId = Object.keys(q.self_signing_keys![me]!.keys)[0]!;
    expect(Object.keys(q.device_keys[me]![alice.getDeviceId()!]!.signatures?.[me] ?? {})).toContain(selfSigningId);

    // And the secret storage account data: the default key, its description, and each
    // secret encrypted with it.
    const [keyId] = [...aliceKeys.keys()];
    expect(await accountData(alice, "m.secret_storage.default_key")).toEqual({ key: keyId });
    const description = await accountData(alice, `m.secret_storage.key.${keyId}`);
    expect(description).toMatchObject({ algorithm: "m.secret_storage.v1.aes-hmac-sha2" });
    expect(description.iv).toBeTruthy();
    expect(description.mac).toBeTruthy();
    for (const secret of ["m.cross_signing.master", "m.cross_signing.self_signing", "m.cross_signing.user_signing", "m.megolm_backup.v1"]) {
      const stored = (await accountData(alice, secret)) as { encrypted?: Record<string, { iv: string; ciphertext: string; mac: string }> };
      expect(Object.keys(stored.encrypted ?? {}), secret).toEqual([keyId]);
      expect(stored.encrypted![keyId!]!.ciphertext, secret).toBeTruthy();
    }
  });

  it("replacing cross-signing keys takes the password (UIA) through authUploadDeviceSigningKeys", async () => {
    // Carol's client is not syncing: with a running sync loop, the rust crypto sends a
    // /keys/query for the own user while a reset is under way, and an answer that still
    // has the old keys (sent before the upload lands) makes it discard the new private
    // keys ("cleared=DiffResult { master_differs: true, ... }" in its log), a client-side
    // race that would make this test flaky and says nothing about the server.
    const carol = await registerClient(hs.baseUrl, uniqueName("carol"), PASSWORD, { crypto: true });
    const crypto = carol.getCrypto()!;
    const me = carol.getUserId()!;
    const serverMaster = async () => Object.values((await carol.downloadKeysForUsers([me])).master_keys?.[me]?.keys ?? {});
    const rounds: string[] = [];
    await crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordUia(carol, rounds) });
    // The first master key needs no UIA (spec v1.11).
    expect(rounds).toEqual(["none"]);
    const [first] = await serverMaster();
    expect(first).toBeTruthy();

    rounds.length = 0;
    await crypto.bootstrapCrossSigning({ setupNewCrossSigning: true, authUploadDeviceSigningKeys: passwordUia(carol, rounds) });
    expect(rounds).toEqual(["none", "m.login.password"]);
    const [second] = await serverMaster();
    expect(second).toBeTruthy();
    expect(second).not.toBe(first);
    // The client's private keys are those of the keys the server now holds. (Identity
    // lookups of a client that does not sync wait 1 s for its own-user /keys/query: one only.)
    expect(await crypto.getCrossSigningKeyId(CrossSigningKey.Master)).toBe(second);
    // A wrong password is refused and the keys stay as they are.
    const wrong: string[] = [];
    const badUia: UIAuthCallback<void> = async (makeRequest) => {
      try {
        await makeRequest(null);
      } catch (e) {
        if (!(e instanceof MatrixError) || e.httpStatus !== 401) throw e;
        wrong.push("401");
        await makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: me }, password: "wrong", session: e.data.session });
      }
    };
    await expect(crypto.bootstrapCrossSigning({ setupNewCrossSigning: true, authUploadDeviceSigningKeys: badUia })).rejects.toMatchObject({ httpStatus: 401, errcode: "M_FORBIDDEN" });
    expect(wrong).toEqual(["401"]);
    expect(await serverMaster()).toEqual([second]);
  });

  it("backs a room key up; a fresh login restores the backup with the recovery key and decrypts an old message", async () => {
    const crypto = alice.getCrypto()!;
    // The backup bootstrapSecretStorage created is active and is the server's current one.
    const version = await crypto.getActiveSessionBackupVersion();
    expect(version).toBeTruthy();
    const info = await get<{ version: string; algorithm: string; auth_data: { public_key: string; signatures: Record<string, Record<string, string>> } }>(alice, `${V3}/room_keys/version`);
    expect(info.version).toBe(version);
    expect(info.algorithm).toBe("m.megolm_backup.v1.curve25519-aes-sha2");
    // Signed by the device and by the master key.
    const masterId = await crypto.getCrossSigningKeyId(CrossSigningKey.Master);
    expect(Object.keys(info.auth_data.signatures[alice.getUserId()!] ?? {})).toEqual(
      expect.arrayContaining([`ed25519:${alice.getDeviceId()}`, `ed25519:${masterId}`]),
    );
    expect((await crypto.checkKeyBackupAndEnable())?.trustInfo).toMatchObject({ trusted: true });

    // A new Megolm session for a message sent now (the rotation forces one, so the test
    // does not depend on the session of the first test having been backed up).
    await crypto.forceDiscardSession(roomId);
    const old = await alice.sendTextMessage(roomId, "before the new login");
    const sessionOf = async (eventId: string) =>
      (await get<{ content: { session_id: string } }>(alice, `${V3}/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`)).content.session_id;
    // Alice's new session, and Bob's (received before the backup existed, uploaded when it was enabled).
    const sessionIds = [await sessionOf(old.event_id), await sessionOf(bobsReply)];
    type Keys = { rooms: Record<string, { sessions: Record<string, unknown> }> };
    await waitFor(
      async () => {
        const sessions = (await get<Keys>(alice, `${V3}/room_keys/keys?version=${version}`)).rooms[roomId]?.sessions ?? {};
        return sessionIds.every((id) => sessions[id]);
      },
      { timeoutMs: 15_000, intervalMs: 200, what: "the Megolm sessions uploaded to the backup" },
    );
    const counted = await get<{ count: number }>(alice, `${V3}/room_keys/version/${version}`);
    expect(counted.count).toBeGreaterThanOrEqual(2);

    // No other device of Alice's may hand the key over: the first one goes away.
    alice.stopClient();

    // A fresh login: new device, new crypto store, and a user who knows only the recovery key.
    const typedIn = new Map<string, Uint8Array<ArrayBuffer>>();
    const alice2 = await loginClient(hs.baseUrl, aliceName, PASSWORD, { crypto: true, clientOpts: { cryptoCallbacks: secretStorageCallbacks(typedIn) } });
    expect(alice2.getDeviceId()).not.toBe(alice.getDeviceId());
    await started(alice2);
    // Without the backup the old message cannot be decrypted here.
    expect((await settled(alice2, roomId, old.event_id)).isDecryptionFailure()).toBe(true);
    expect((await settled(alice2, roomId, bobsReply)).isDecryptionFailure()).toBe(true);

    const crypto2 = alice2.getCrypto()!;
    const defaultKeyId = (await accountData(alice2, "m.secret_storage.default_key")).key as string;
    typedIn.set(defaultKeyId, decodeRecoveryKey(recoveryKey.encodedPrivateKey!));
    expect(await alice2.secretStorage.checkKey(typedIn.get(defaultKeyId)!, (await alice2.secretStorage.getKey(defaultKeyId))![1])).toBe(true);

    // Secret storage gives the new device the cross-signing keys (it signs itself) ...
    // As Element does before offering this, make sure the own identity is downloaded
    // (the first /keys/query may still be queued behind the initial sync).
    expect(await crypto2.userHasCrossSigningKeys(alice2.getUserId()!, true)).toBe(true);
    await crypto2.bootstrapCrossSigning({});
    expect(await crypto2.isCrossSigningReady()).toBe(true);
    // The device signature it uploaded comes back through /sync (device list change) and /keys/query.
    await waitFor(async () => (await crypto2.getDeviceVerificationStatus(alice2.getUserId()!, alice2.getDeviceId()!))?.crossSigningVerified, {
      what: "the new device cross-signed in its own view",
    });
    // ... and the backup key; the backup is then trusted and enabled, and restored.
    await crypto2.loadSessionBackupPrivateKeyFromSecretStorage();
    expect(await crypto2.getSessionBackupPrivateKey()).toBeTruthy();
    const check = await crypto2.checkKeyBackupAndEnable();
    expect(check?.backupInfo?.version).toBe(version);
    expect(check?.trustInfo.trusted).toBe(true);
    expect(await crypto2.getActiveSessionBackupVersion()).toBe(version);
    const restored = await crypto2.restoreKeyBackup();
    expect(restored.total).toBeGreaterThanOrEqual(2);
    expect(restored.imported).toBe(restored.total);

    // The SDK retries the failed events once their keys arrive.
    const after = await decrypted(alice2, roomId, old.event_id);
    expect(after.isDecryptionFailure()).toBe(false);
    expect(after.getClearContent()?.body).toBe("before the new login");
    const fromBob = await decrypted(alice2, roomId, bobsReply);
    expect(fromBob.getSender()).toBe(bob.getUserId());
    expect(fromBob.getClearContent()?.body).toBe("hi alice, secretly");
  });
});
