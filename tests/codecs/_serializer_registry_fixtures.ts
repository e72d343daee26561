// Shared by the serializer_registry_*_test.ts files: the classes they
// register, the three codecs and roundTrip.
import {
  type Codec,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";

export class Point {
  constructor(public x: number, public y: number) {}
}
export class Other {
  constructor(public name: string) {}
}

export const CODECS: [string, () => Codec][] = [
  ["json", () => new JsonCodec()],
  ["msgpack", () => new MsgPackCodec()],
  ["msgpackblosc", () => new MsgPackBloscCodec()],
];

export const roundTrip = async (
  codec: Codec,
  value: unknown,
): Promise<unknown> => await codec.decode(await codec.encode(value));
