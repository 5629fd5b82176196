/**
 * A Durable Object has one alarm. Parts of an object that each need a wake-up
 * (the room's outbox and typing timeouts, the user's presence timeout) share it by
 * only ever moving it earlier; `alarm()` runs every part, and each re-arms what
 * it still needs.
 */
export async function alarmNoLaterThan(storage: DurableObjectStorage, at: number): Promise<void> {
  // Inside alarm() getAlarm() is null until something re-arms it (Workers docs, "Alarms").
  const current = await storage.getAlarm();
  if (current === null || current > at) await storage.setAlarm(at);
}
