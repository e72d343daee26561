// The table `deno task attack` prints at the end: one row per attack.

/** One row of the table. */
export interface Row {
  attack: string;
  peakMiB: number;
  hwmMiB: number;
  worstMs: number | undefined;
  /** The good client's replies and connection failures. */
  goodCalls: string;
  outcome: string;
  target: string;
  pass: boolean;
}

export function printTable(rows: Row[]): void {
  const header = [
    "attack",
    "peak RSS",
    "VmHWM",
    "good worst",
    "good calls",
    "offender's outcome",
    "target",
    "result",
  ];
  const cells = rows.map((r) => [
    r.attack,
    `${r.peakMiB} MiB`,
    `${r.hwmMiB} MiB`,
    r.worstMs === undefined ? "—" : `${(r.worstMs / 1000).toFixed(2)} s`,
    r.goodCalls,
    r.outcome,
    r.target,
    r.pass ? "pass" : "MISS",
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...cells.map((c) => c[i].length))
  );
  const line = (c: string[]) =>
    `| ${c.map((x, i) => x.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const c of cells) console.log(line(c));
}
