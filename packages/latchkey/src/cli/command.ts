/**
 * The shape of a CLI command: its help, its `node:util` parseArgs options, and what it does.
 */
import type { ParseArgsConfig } from 'node:util';
import type { CliIo, ExitCode } from './io.js';

export type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export interface Command {
  /** As typed: `keys rotate`. */
  name: string;
  summary: string;
  /** Usage line(s) after `latchkey `. */
  usage: string;
  /** Extra help text: options, output, exit codes. */
  details?: string;
  options?: OptionsConfig;
  /** Exact number of positionals, or a range. Default none. */
  positionals?: { min: number; max: number; names: string };
  run(io: CliIo, args: ParsedArgs): Promise<ExitCode>;
}
