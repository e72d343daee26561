// A full garbage collection from inside a test (tests run without
// --expose-gc), to check what is still reachable.
import v8 from "node:v8";
import vm from "node:vm";

// Exposing `gc` after start-up applies to contexts made from then on.
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/**
 * Ends the current job (WeakRefs created in it keep their targets until
 * then), then runs a full garbage collection.
 */
export async function collectGarbage(): Promise<void> {
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  gc();
}
