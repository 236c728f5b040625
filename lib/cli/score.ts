/**
 * `roots score FILE`: entity-level scores of a conlleval-format file (last two columns: gold and
 * predicted tag), printed as conlleval.pl prints them, or as JSON.
 *
 * The logic lives in lib/metrics/conlleval.ts (`runScore`); this file only declares the command.
 */
import type { Command } from 'commander';
import { RootsError } from '../errors.js';
import { runScore } from '../metrics/conlleval.js';
import { TAGGING_SCHEMES } from '../metrics/seqeval.js';

/** Where the command writes its result (standard output by default; tests pass their own). */
export interface ScoreIO {
  stdout?: (text: string) => void;
}

interface ScoreCliOptions {
  delimiter?: string;
  scheme?: string;
  json?: boolean;
}

/**
 * Adds the `score` subcommand to `program`.
 *
 * On a bad input (unreadable or malformed file, unknown scheme, a tag the scheme does not allow)
 * the command prints one line, `roots: error: <message>`, through commander's error output and
 * exits with status 1 (with `exitOverride()`, commander throws a `CommanderError` instead).
 *
 * @example
 * const program = new Command('roots');
 * registerScore(program);
 * await program.parseAsync(['score', 'predictions.txt', '--scheme', 'IOB2'], { from: 'user' });
 */
export function registerScore(program: Command, io: ScoreIO = {}): void {
  const write = io.stdout ?? ((text: string) => { process.stdout.write(text); });
  program
    .command('score')
    .description('score a conlleval-format file (last two columns: gold and predicted tags) at the entity level')
    .argument('<file>', 'input file, one token a line, blank lines between sentences ("-" reads standard input)')
    .option('-d, --delimiter <char>', 'column delimiter (default: any whitespace)')
    .option('--scheme <name>', `strict mode with this tagging scheme (${TAGGING_SCHEMES.join(', ')}); default: conlleval's lenient chunking`)
    .option('--json', 'print the scores as JSON instead of the conlleval summary')
    .action(async function (this: Command, file: string, options: ScoreCliOptions) {
      let text: string;
      try {
        text = await runScore(file, { delimiter: options.delimiter, scheme: options.scheme, json: options.json === true });
      } catch (err) {
        if (err instanceof RootsError) {
          this.error(`roots: error: ${err.message.replace(/\s*\n\s*/g, ' ')}`, { exitCode: 1, code: `roots.${err.code}` });
        }
        throw err;
      }
      write(text);
    });
}
