// The contract between pstc's entry (main.ts) and each command module: a command adds itself to
// the program, writes through `io`, and sets the exit code for outcomes that are not errors
// (e.g. `check` found problems). Errors are thrown; main.ts turns them into messages.
import type { Command } from 'commander';
import type { CliIO } from './io.js';

export type CommandRegistrar = (program: Command, io: CliIO, setExit: (code: number) => void) => void;
