// The command line of `deno task attack`: its options, or the usage (and
// an exit) for --help and for options it does not know.
import { parseArgs } from "node:util";

const USAGE = `Usage: deno task attack [options]

  --only=NAME,NAME    run only these attacks
  --quick             smaller payloads: a check in about two minutes
  --rss-kill-mib=MIB  kill the server past this RSS (default 4096)
  -h, --help          print this text`;

/** The options of `deno task attack`; prints the usage and exits for --help or a bad one. */
export function parseOptions(): {
  only?: string;
  quick: boolean;
  "rss-kill-mib": string;
} {
  let values;
  try {
    values = parseArgs({
      args: Deno.args,
      strict: true,
      options: {
        only: { type: "string" },
        quick: { type: "boolean", default: false },
        "rss-kill-mib": { type: "string", default: "4096" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  return values;
}
