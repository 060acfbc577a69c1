// A small reader/runner for datadriven test files (the format of etcd's raft testdata):
//
//   # comment
//   command arg1 key=value key=(a,b)
//   optional input lines
//   ----
//   expected output
//   <blank line>
//
// Output that contains blank lines is framed by a doubled "----" separator. With REWRITE=1
// the file is rewritten with the actual output, to be reviewed as a diff.

import { readFileSync, writeFileSync } from "node:fs";

export interface CmdArg {
  readonly key: string;
  readonly vals: readonly string[];
}

export interface TestCase {
  /** Comments and blank lines before the command, kept on rewrite. */
  readonly prefix: string;
  readonly line: number;
  readonly cmdLine: string;
  readonly cmd: string;
  readonly args: readonly CmdArg[];
  readonly input: string;
  readonly expected: string;
}

export function parseArgs(s: string): { cmd: string; args: CmdArg[] } {
  const toks: string[] = [];
  let cur = "";
  let depth = 0;
  for (const ch of s.trim()) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === " " && depth === 0) {
      if (cur) toks.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur) toks.push(cur);
  const [cmd = "", ...rest] = toks;
  const args = rest.map((t) => {
    const eq = t.indexOf("=");
    if (eq < 0) return { key: t, vals: [] };
    let v = t.slice(eq + 1);
    if (v.startsWith("(") && v.endsWith(")")) v = v.slice(1, -1);
    return { key: t.slice(0, eq), vals: v === "" ? [] : v.split(/[ ,]+/) };
  });
  return { cmd, args };
}

export function parseFile(text: string): { cases: TestCase[]; trailer: string } {
  const lines = text.split("\n");
  const cases: TestCase[] = [];
  let i = 0;
  let prefix: string[] = [];
  while (i < lines.length) {
    const l = lines[i]!;
    if (l.trim() === "" || l.startsWith("#")) {
      prefix.push(l);
      i++;
      continue;
    }
    const line = i + 1;
    const cmdLine = l;
    i++;
    const input: string[] = [];
    while (i < lines.length && lines[i] !== "----") input.push(lines[i++]!);
    if (i >= lines.length) throw new Error(`line ${line}: missing ---- separator`);
    i++;
    const out: string[] = [];
    if (lines[i] === "----") {
      i++;
      while (i < lines.length && !(lines[i] === "----" && lines[i + 1] === "----")) out.push(lines[i++]!);
      i += 2;
    } else {
      while (i < lines.length && lines[i]!.trim() !== "") out.push(lines[i++]!);
    }
    const { cmd, args } = parseArgs(cmdLine);
    cases.push({ prefix: prefix.map((p) => p + "\n").join(""), line, cmdLine, cmd, args, input: input.join("\n"), expected: out.join("\n") });
    prefix = [];
  }
  return { cases, trailer: prefix.filter((p) => p.trim() !== "").map((p) => p + "\n").join("") };
}

function frame(output: string): string {
  return output.includes("\n\n") || output.split("\n").some((l) => l.trim() === "")
    ? `----\n----\n${output}\n----\n----`
    : `----\n${output}`;
}

export interface RunResult {
  readonly failures: string[];
}

/** Runs every case through `run`; returns mismatches (or rewrites the file when REWRITE=1). */
export function runFile(path: string, run: (tc: TestCase) => string): RunResult {
  const text = readFileSync(path, "utf8");
  const { cases, trailer } = parseFile(text);
  const rewrite = process.env.REWRITE === "1";
  const failures: string[] = [];
  const parts: string[] = [];
  for (const tc of cases) {
    let actual: string;
    try {
      actual = run(tc).replace(/\s+$/g, "");
    } catch (e) {
      actual = `error: ${(e as Error).message}`;
      if (!rewrite && !(tc.expected.trim() === actual)) failures.push(`${path}:${tc.line}: ${tc.cmdLine}\n${(e as Error).stack}`);
    }
    if (actual === "") actual = "ok";
    if (!rewrite && actual !== tc.expected.replace(/\s+$/g, "")) {
      failures.push(`${path}:${tc.line}: ${tc.cmdLine}\n--- expected\n${tc.expected}\n--- actual\n${actual}`);
    }
    parts.push(`${tc.prefix}${tc.cmdLine}${tc.input ? "\n" + tc.input : ""}\n${frame(actual)}`);
  }
  if (rewrite) writeFileSync(path, parts.join("\n") + "\n" + (trailer === "" ? "" : "\n" + trailer));
  return { failures };
}
