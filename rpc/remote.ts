import type { ExposableFunction } from "./expose.ts";

/**
 * The typed remote proxy of a service of type `T`: each public method
 * returning `R` or `Promise<R>` becomes `(...args) => Promise<R>`, each
 * public object field a nested proxy (for sub-services). Fields that hold
 * data (primitives, arrays, `Map`, `Set`, `Date`, `RegExp`, byte arrays
 * and buffers) and the `router` field are left out; which members are
 * really exposed is decided by the peer (`@expose`), which refuses the
 * rest. A method that returns a service gives a proxy of it at run time,
 * while its result type is the local class: type it as `Remote<Sub>`.
 *
 * With `T = unknown` (a peer whose type is not known, e.g. a Python
 * service) it is a {@linkcode DynamicRemote}.
 *
 * @example
 * ```ts
 * import type { Remote } from "@aiomas/aiomas";
 *
 * class MathServer {
 *   add(a: number, b: number): number {
 *     return a + b;
 *   }
 * }
 * type R = Remote<MathServer>; // { readonly add: (a: number, b: number) => Promise<number> }
 * ```
 */
export type Remote<T> = unknown extends T ? DynamicRemote : {
  readonly [
    K in keyof T as K extends "router" ? never
      : K extends string ? (
          // A field that may be null or undefined (`sub?: Sub`) is typed as
          // what it holds when set; one that only ever holds those is left
          // out.
          [NonNullable<T[K]>] extends [never] ? never
            : NonNullable<T[K]> extends ExposableFunction ? K
            // Objects that only hold data: never a sub-service.
            : NonNullable<T[K]> extends
              | readonly unknown[]
              | ReadonlyMap<unknown, unknown>
              | ReadonlySet<unknown>
              | Date
              | RegExp
              | ArrayBufferView
              | ArrayBufferLike ? never
            : NonNullable<T[K]> extends object ? K
            : never
        )
      : never
  ]-?: NonNullable<T[K]> extends infer F extends ExposableFunction
    ? (...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>>
    : Remote<NonNullable<T[K]>>;
};

/**
 * A proxy of a service whose type is not known: any path can be called and
 * resolves to `Promise<unknown>`.
 */
export type DynamicRemote =
  & { readonly [name: string]: DynamicRemote }
  & ((...args: unknown[]) => Promise<unknown>);
