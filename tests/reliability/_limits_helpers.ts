// Helpers shared by the limits_*_test.ts files. Memory is measured as
// heapUsed + external (external counts ArrayBuffers: a frame buffer of N
// bytes shows up there at once, even untouched).
export const LOCAL = { hostname: "127.0.0.1", port: 0 };
export const MiB = 2 ** 20;

export type Addr = { hostname: string; port: number };

export function memory(): number {
  const usage = Deno.memoryUsage();
  return usage.heapUsed + usage.external;
}

export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
