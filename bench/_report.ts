// Rows of the summary table: how a scenario's samples become a row (its
// median, its raw partner's, the median of the per-round ratios), how a
// row is judged against its target, and the table, JSON and SVG.
import { median, partnerId, perOp, type Sample } from "./_measure.ts";

/** The unit of a row's result. */
export type Unit =
  | "µs/round trip"
  | "msgs/s"
  | "calls/s"
  | "MB/s"
  | "ms"
  | "B/agent"
  | "KB/conn"
  | "µs/call"
  | "×";

/** One line of the summary table (and of `latest.json`). */
export interface Row {
  family: string;
  /** The scenario id (`--only` takes it). */
  id: string;
  scenario: string;
  note: string;
  unit: Unit;
  result: number;
  /** The raw partner's median, in the same unit. */
  baseline: number | null;
  /** To the raw partner: the median of the per-round ratios where paired. */
  ratio: number | null;
  ratioRounds?: number[];
  /** The target in words ("" for a row only reported). */
  target: string;
  /** What the target is judged on (the ratio, × hand-written, …). */
  measured: number | null;
  /** ≥ 1 means the target is met; the SVG bar length. */
  score: number | null;
  pass: boolean | null;
  rounds: number[];
  /** Median CPU time per operation, µs: this process and the peer. */
  cpuUsPerOp?: { client: number; peer: number };
  /** Median socket writes and reads per operation (`--count-io`). */
  ioPerOp?: {
    writes: number;
    reads: number;
    peerWrites: number;
    peerReads: number;
  };
}

/** What a row says about itself; the numbers come from the samples. */
export interface RowSpec {
  family: string;
  id: string;
  scenario: string;
  note: string;
  unit: Unit;
  /** A sample's value in `unit` (rttOf, rateOf, MB/s, …). */
  value: (s: Sample) => number;
}

/**
 * A row of values measured without a partner: its result is their median,
 * unless `result` is given.
 */
export function plainRow(
  family: string,
  id: string,
  scenario: string,
  note: string,
  unit: Row["unit"],
  rounds: number[],
  result: number = median(rounds),
): Row {
  return {
    family,
    id,
    scenario,
    note,
    unit,
    result,
    baseline: null,
    ratio: null,
    target: "",
    measured: null,
    score: null,
    pass: null,
    rounds,
  };
}

/**
 * A row from the samples of `spec.id` and, if it was paired, of its raw
 * partner.
 */
export function rowOf(
  samples: Map<string, Sample[]>,
  spec: RowSpec,
  countIo = false,
): Row {
  const own = samples.get(spec.id)!;
  const raws = samples.get(partnerId(spec.id));
  const values = own.map(spec.value);
  const ratioRounds = raws?.map((raw, i) => values[i] / spec.value(raw));
  return {
    family: spec.family,
    id: spec.id,
    scenario: spec.scenario,
    note: spec.note,
    unit: spec.unit,
    result: median(values),
    baseline: raws === undefined ? null : median(raws.map(spec.value)),
    ratio: ratioRounds === undefined ? null : median(ratioRounds),
    ratioRounds,
    target: "",
    measured: null,
    score: null,
    pass: null,
    rounds: values,
    cpuUsPerOp: {
      client: perOp(own, (s) => s.cpuUs),
      peer: perOp(own, (s) => s.peerCpuUs),
    },
    ioPerOp: countIo
      ? {
        writes: perOp(own, (s) => s.io?.writes),
        reads: perOp(own, (s) => s.io?.reads),
        peerWrites: perOp(own, (s) => s.io?.peerWrites),
        peerReads: perOp(own, (s) => s.io?.peerReads),
      }
      : undefined,
  };
}

/**
 * Sets a row's target: `measured` must be ≥ `min` (or ≤ `max`). A
 * `measured` of NaN (what it is judged on was not measured) leaves it
 * unjudged.
 */
export function judge(
  row: Row,
  target: string,
  measured: number,
  bound: { min: number } | { max: number },
): Row {
  row.target = target;
  if (Number.isNaN(measured)) return row;
  row.measured = measured;
  if ("min" in bound) {
    row.score = measured / bound.min;
    row.pass = measured >= bound.min;
  } else {
    row.score = bound.max / measured;
    row.pass = measured <= bound.max;
  }
  return row;
}

/** A value in a row's unit, for the table. */
export function formatNumber(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return "?";
  switch (unit) {
    case "msgs/s":
    case "calls/s":
      return value >= 1e6
        ? `${(value / 1e6).toFixed(2)} M/s`
        : `${(value / 1e3).toFixed(1)} k/s`;
    case "µs/round trip":
      return `${value.toFixed(1)} µs`;
    case "µs/call":
      return `${value.toFixed(2)} µs/call`;
    case "MB/s":
      return `${value.toFixed(0)} MB/s`;
    case "ms":
      return `${value.toFixed(0)} ms`;
    case "B/agent":
      return `${value.toFixed(0)} B/agent`;
    case "KB/conn":
      return `${value.toFixed(1)} KB/conn`;
    case "×":
      return `${value.toFixed(2)} ×`;
  }
}

/** Prints the rows as a Markdown table. */
export function printTable(rows: Row[], countIo = false): void {
  const header = [
    "scenario",
    "result",
    "raw partner",
    "× raw",
    "target",
    "measured",
    "",
    "CPU µs/op here+peer",
    ...(countIo ? ["writes/op here+peer", "reads/op here+peer"] : []),
  ];
  const pair = (a: number, b: number) => `${a.toFixed(2)} + ${b.toFixed(2)}`;
  const body = rows.map((row) => [
    row.scenario,
    formatNumber(row.result, row.unit),
    row.baseline === null ? "" : formatNumber(row.baseline, row.unit),
    row.ratio === null ? "" : `${row.ratio.toFixed(2)} ×`,
    row.target,
    row.measured === null ? "" : `${row.measured.toFixed(2)}`,
    row.pass === null ? "" : row.pass ? "pass" : "MISS",
    row.cpuUsPerOp === undefined || Number.isNaN(row.cpuUsPerOp.client)
      ? ""
      : pair(row.cpuUsPerOp.client, row.cpuUsPerOp.peer),
    ...(countIo
      ? [
        row.ioPerOp ? pair(row.ioPerOp.writes, row.ioPerOp.peerWrites) : "",
        row.ioPerOp ? pair(row.ioPerOp.reads, row.ioPerOp.peerReads) : "",
      ]
      : []),
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((cells) => cells[i].length))
  );
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log(line(header));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const cells of body) console.log(line(cells));
}

/** Per paired row: its id, ratio and the per-round ratios (for `--only`). */
export function printRatios(rows: Row[]): void {
  for (const row of rows) {
    if (row.ratioRounds === undefined) continue;
    console.log(
      `${row.id.padEnd(22)} ${formatNumber(row.result, row.unit)}  ratio ${
        row.ratio!.toFixed(3)
      } (${row.ratioRounds.map((r) => r.toFixed(2)).join(" ")})`,
    );
  }
}

const escapeXml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A bar per row with a target: its score (1 = exactly the target). */
export function svgChart(rows: Row[], title: string): string {
  const scored = rows.filter((row) => row.score !== null);
  const labelWidth = 420;
  const barArea = 420;
  const maxScore = 2;
  const rowHeight = 30;
  const top = 50;
  const width = labelWidth + barArea + 380;
  const height = top + scored.length * rowHeight + 40;
  const x1 = labelWidth + barArea / maxScore;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${
      escapeXml(title)
    }</text>`,
    `<text x="10" y="40" fill="#555">bar = result relative to its target (the line at 1.0); longer is better, capped at ${maxScore}</text>`,
    `<line x1="${x1}" y1="${top - 2}" x2="${x1}" y2="${
      top + scored.length * rowHeight + 2
    }" stroke="#000" stroke-opacity="0.45" stroke-dasharray="4 3"/>`,
    `<text x="${x1}" y="${
      top + scored.length * rowHeight + 18
    }" text-anchor="middle">target</text>`,
  ];
  scored.forEach((row, i) => {
    const y = top + i * rowHeight;
    const score = row.score!;
    const length = Math.max(1, Math.min(score, maxScore) / maxScore * barArea);
    const color = row.pass ? "#3a9a4a" : "#c8413b";
    const detail = `${formatNumber(row.result, row.unit)}${
      row.ratio === null ? "" : `, ${row.ratio.toFixed(2)} × raw`
    }; ${row.target}: ${score.toFixed(2)} of target`;
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + 19}" text-anchor="end">${
        escapeXml(row.scenario)
      }</text>`,
      `<rect x="${labelWidth}" y="${y + 5}" width="${
        length.toFixed(1)
      }" height="${rowHeight - 10}" fill="${color}"/>`,
      `<text x="${(labelWidth + length + 6).toFixed(1)}" y="${
        y + 19
      }" fill="#333">${escapeXml(detail)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

/** Writes `<name>.json` (and `<name>.svg` with `svg`) into bench/results/. */
export async function writeResults(
  name: string,
  report: { date: string; cores: number; rows: Row[]; [key: string]: unknown },
  svg: boolean,
): Promise<string[]> {
  const dir = new URL("results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    new URL(`${name}.json`, dir),
    JSON.stringify(report, null, 2) + "\n",
  );
  const written = [`bench/results/${name}.json`];
  if (svg) {
    await Deno.writeTextFile(
      new URL(`${name}.svg`, dir),
      svgChart(
        report.rows,
        `aiomas for Deno, benchmarks (${
          report.date.slice(0, 10)
        }, Deno ${Deno.version.deno}, ${report.cores} cores)`,
      ),
    );
    written.push(`bench/results/${name}.svg`);
  }
  return written;
}
