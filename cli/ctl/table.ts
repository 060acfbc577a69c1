// The table output (olekukonko/tablewriter as etcdctl configures it): upper-case centred headers,
// right-aligned cells, one space of margin, cells longer than 30 characters wrapped at spaces.

const MAX_CELL = 30;

function width(s: string): number {
  return [...s].length;
}

function wrap(s: string): string[] {
  if (width(s) <= MAX_CELL) return [s];
  const words = s.split(" ");
  const limit = Math.max(MAX_CELL, ...words.map(width));
  const lines: string[] = [];
  let cur = "";
  for (const w of words) {
    if (cur === "") cur = w;
    else if (width(cur) + 1 + width(w) <= limit) cur += ` ${w}`;
    else {
      lines.push(cur);
      cur = w;
    }
  }
  lines.push(cur);
  return lines;
}

function title(h: string): string {
  return h.toUpperCase().replace(/[_.]/g, " ");
}

export function renderTable(header: string[], rows: string[][]): string {
  const heads = header.map(title);
  const cells = rows.map((r) => r.map(wrap));
  const widths = heads.map((h, i) => Math.max(width(h), ...cells.map((r) => Math.max(...(r[i] ?? [""]).map(width)))));
  const line = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+\n`;
  let out = line;
  out += `|${heads
    .map((h, i) => {
      const gap = widths[i]! - width(h);
      const left = Math.floor(gap / 2);
      return ` ${" ".repeat(left)}${h}${" ".repeat(gap - left)} `;
    })
    .join("|")}|\n`;
  out += line;
  for (const r of cells) {
    const height = Math.max(1, ...r.map((c) => c.length));
    for (let k = 0; k < height; k++) {
      out += `|${widths.map((w, i) => ` ${(r[i]?.[k] ?? "").padStart(w)} `).join("|")}|\n`;
    }
  }
  out += line;
  return out;
}
