// Password prompts as etcdctl asks them (bgentry/speakeasy): the prompt on stdout, terminal echo
// turned off while one line is read from standard input, a newline after it. Without a
// terminal the line is read from standard input as it is, so `echo pw | conclave ctl …` works
// as it does with etcdctl (which also tries stty there and prints its complaint).
import { readSync } from "node:fs";
import { out } from "./io.ts";

async function stty(arg: string): Promise<void> {
  // node:child_process only here: a prompt is the rare case.
  const { spawnSync } = await import("node:child_process");
  spawnSync("stty", [arg], { stdio: ["inherit", "ignore", "ignore"] });
}

/** One line of standard input, byte by byte (nothing read beyond the newline). */
function readLine(): string {
  const bytes: number[] = [];
  const b = new Uint8Array(1);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, b, 0, 1, null);
    } catch (e) {
      if ((e as { code?: string }).code === "EAGAIN") continue;
      if ((e as { code?: string }).code === "EOF") break;
      throw e;
    }
    if (n === 0 || b[0] === 0x0a) break;
    bytes.push(b[0]!);
  }
  return Buffer.from(bytes).toString("utf8").replace(/\r$/, "");
}

/** speakeasy.Ask: the prompt, the line (trimmed), then a newline on stdout. */
export async function askPassword(prompt: string): Promise<string> {
  if (prompt !== "") out(prompt);
  const tty = Boolean((process.stdin as { isTTY?: boolean }).isTTY);
  if (tty) await stty("-echo");
  let line: string;
  try {
    line = readLine().trim();
  } finally {
    if (tty) await stty("echo");
  }
  out("\n");
  return line;
}

