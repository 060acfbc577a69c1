// Go's text/tabwriter: tab-terminated cells aligned in column blocks. Default settings are
// etcdctl v3's (minwidth 0, tabwidth 8, padding 1, padchar '\t': padding written as tabs);
// the v2 help uses urfave/cli's (minwidth 1, padding 2, padchar ' ').

const TAB_WIDTH = 8;

export interface TabwriterOptions {
  minWidth: number;
  padding: number;
  padChar: "\t" | " ";
}

const ETCDCTL_V3: TabwriterOptions = { minWidth: 0, padding: 1, padChar: "\t" };

type Cell = { text: string; width: number };

function runeWidth(s: string): number {
  return [...s].length;
}

export function tabwrite(text: string, o: TabwriterOptions = ETCDCTL_V3): string {
  const rawLines = text.split("\n");
  const trailingNewline = text.endsWith("\n");
  if (trailingNewline) rawLines.pop();
  const lines: Cell[][] = rawLines.map((l) => l.split("\t").map((t) => ({ text: t, width: runeWidth(t) })));
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (line0: number, line1: number) => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i]!;
      let s = "";
      for (let j = 0; j < line.length; j++) {
        const c = line[j]!;
        s += c.text;
        if (j < widths.length && j < line.length - 1) {
          if (o.padChar === "\t") {
            const cellw = Math.ceil(widths[j]! / TAB_WIDTH) * TAB_WIDTH;
            s += "\t".repeat(Math.ceil((cellw - c.width) / TAB_WIDTH));
          } else s += " ".repeat(widths[j]! - c.width);
        }
      }
      out.push(s);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let width = 0;
      for (; t < line1; t++) {
        const line = lines[t]!;
        if (column >= line.length - 1) break;
        const w = Math.max(o.minWidth, line[column]!.width + o.padding);
        if (w > width) width = w;
      }
      widths.push(width);
      format(line0, t);
      widths.pop();
      line0 = t;
      t--; // the for loop's increment re-examines line t
    }
    writeLines(line0, line1);
  };

  // The outer loop must restart from where the block ended, not skip it.
  formatAll(lines.length);
  function formatAll(n: number) {
    format(0, n);
  }
  return out.join("\n") + (trailingNewline ? "\n" : "");
}
