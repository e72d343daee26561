// The metrics of the process-wide budgets, observed when a meter collects.
import type { Meter } from "npm:@opentelemetry/api@^1.9.0";
import { partialFrameBudget } from "../channel/_frame_budget.ts";
import { unansweredBudget } from "../channel/_unanswered_budget.ts";

/**
 * The process-wide budgets (see `setPartialFrameBudget` and
 * `setUnansweredBudget`): held and limit as `.usage` and `.limit`, as
 * OpenTelemetry's semantic conventions name such pairs, and how often each
 * was hit.
 */
export function budgetInstruments(meter: Meter): void {
  const bytes = { unit: "By" };
  const cost = { unit: "{cost_unit}" };
  const frameUsage = meter.createObservableUpDownCounter(
    "aiomas.channel.partial_frames.usage",
    {
      ...bytes,
      description:
        "Bytes this process holds in frames that have started to arrive but not ended",
    },
  );
  const frameLimit = meter.createObservableUpDownCounter(
    "aiomas.channel.partial_frames.limit",
    {
      ...bytes,
      description: "The partial frame budget (setPartialFrameBudget)",
    },
  );
  const frameCuts = meter.createObservableCounter(
    "aiomas.channel.partial_frames.cuts",
    {
      unit: "{frame}",
      description:
        "Partial frames cut off at the budget, each closing its connection with a ProtocolError",
    },
  );
  const unansweredUsage = meter.createObservableUpDownCounter(
    "aiomas.channel.unanswered.usage",
    {
      ...cost,
      description:
        "Decoded cost of the requests this process received and has not answered",
    },
  );
  const unansweredLimit = meter.createObservableUpDownCounter(
    "aiomas.channel.unanswered.limit",
    {
      ...cost,
      description: "The unanswered request budget (setUnansweredBudget)",
    },
  );
  const unansweredPauses = meter.createObservableCounter(
    "aiomas.channel.unanswered.pauses",
    {
      unit: "{pause}",
      description:
        "Times a channel stopped reading because the process was at the unanswered request budget",
    },
  );
  meter.addBatchObservableCallback((result) => {
    const frames = partialFrameBudget();
    result.observe(frameUsage, frames.held);
    result.observe(frameLimit, frames.limit);
    result.observe(frameCuts, frames.cuts);
    const unanswered = unansweredBudget();
    result.observe(unansweredUsage, unanswered.held);
    result.observe(unansweredLimit, unanswered.limit);
    result.observe(unansweredPauses, unanswered.pauses);
  }, [
    frameUsage,
    frameLimit,
    frameCuts,
    unansweredUsage,
    unansweredLimit,
    unansweredPauses,
  ]);
}
