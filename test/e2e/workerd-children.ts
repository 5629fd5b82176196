/** The workerd processes this test process started (the runtime and wrangler's proxy): what a kill -9 test kills. */
import { readdirSync, readFileSync } from "node:fs";

export function workerdChildren(): number[] {
  const out: number[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (ppid === process.pid && cmd.split("\0")[0]?.endsWith("/workerd")) out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}
