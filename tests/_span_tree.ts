// Prints finished spans as a tree (children under their parent, in start
// order, with kind, trace, start offset, duration, status and attributes):
// the sample traces of docs/observability.md.
import type { ReadableSpan } from "npm:@opentelemetry/sdk-trace-base@^2.12.1";

const KINDS = ["INTERNAL", "SERVER", "CLIENT"];
const STATUS = ["UNSET", "OK", "ERROR"];

function toMs([seconds, nanos]: [number, number]): number {
  return seconds * 1e3 + nanos / 1e6;
}

/** Prints `spans` as a tree on standard output. */
export function printSpanTree(spans: ReadableSpan[]): void {
  const origin = Math.min(...spans.map((span) => toMs(span.startTime)));
  const children = (parent: ReadableSpan | undefined): ReadableSpan[] =>
    spans
      .filter((span) =>
        parent === undefined
          ? span.parentSpanContext === undefined
          : span.parentSpanContext?.spanId === parent.spanContext().spanId
      )
      .sort((x, y) => toMs(x.startTime) - toMs(y.startTime));
  const print = (span: ReadableSpan, depth: number): void => {
    const indent = "  ".repeat(depth);
    const start = (toMs(span.startTime) - origin).toFixed(2);
    const took = toMs(span.duration).toFixed(2);
    console.log(
      `${indent}${span.name}  ${KINDS[span.kind]}  trace=${
        span.spanContext().traceId.slice(0, 8)
      }…  +${start} ms, ${took} ms, ${STATUS[span.status.code]}`,
    );
    const attributes = Object.entries(span.attributes)
      .map(([key, value]) => `${key}=${value}`).join(" ");
    console.log(`${indent}    ${attributes}`);
    for (const child of children(span)) print(child, depth + 1);
  };
  for (const root of children(undefined)) print(root, 0);
}
