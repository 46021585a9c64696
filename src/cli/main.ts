// pstc's command-line entry. Each command lives in src/cli/commands/<name>.ts and exports
// a CommandRegistrar (registrar.ts); this file only wires them up and turns errors into messages:
// a user's mistake prints diagnostics, never a stack trace; an internal error says it is one.
import { Command, CommanderError } from 'commander';
import { DiagnosticError, renderDiagnostics, type Diagnostic } from '../lang/diagnostics.js';
import { readFromDisk } from '../lang/read-disk.js';
import { processIO, type CliIO } from './io.js';
import { UsageError } from './errors.js';
import { EnvironmentSettingError } from '../../backends/webgpu/gpu-device.js';
import { PSTC_VERSION } from './version.js';
import { registerCheck } from './commands/check.js';
import { registerFmt } from './commands/fmt.js';
import { registerExplain } from './commands/explain.js';
import { registerCompile } from './commands/compile.js';
import { registerRun } from './commands/run.js';
import { registerBench } from './commands/bench.js';
import { registerTrain } from './commands/train.js';
import { registerEval } from './commands/eval.js';
import { registerEmitTs } from './commands/emit-ts.js';
import { registerExport } from './commands/export.js';
import type { CommandRegistrar } from './registrar.js';
import { registerServe } from './commands/serve.js';
import { registerAblate } from './commands/ablate.js';
import { registerData } from './commands/data.js';

// One line per command module; keep the order of `pstc --help`.
const registrars: CommandRegistrar[] = [
  registerCheck,
  registerFmt,
  registerExplain,
  registerCompile,
  registerRun,
  registerBench,
  registerTrain,
  registerEval,
  registerEmitTs,
  registerExport,
  registerServe,
  registerAblate,
  registerData,
];

export function buildProgram(io: CliIO, setExit: (code: number) => void): Command {
  const program = new Command('pstc')
    .description('A compiler for video Transformers with temporal patch shift (.pst → IR → WebGPU)')
    .version(PSTC_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError('(run with --help for usage)');
  for (const register of registrars) register(program, io, setExit);
  return program;
}

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(io, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof DiagnosticError) {
      io.err(renderDiagnostics(e.diagnostics, { color: io.color, sources: sourcesOf(e.diagnostics) }));
      return 1;
    }
    if (e instanceof UsageError || e instanceof EnvironmentSettingError) {
      io.err(`pstc: ${e.message}`);
      return 2;
    }
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      // Not a bug: every file is written whole (temporary + rename), so what was there before stays.
      io.err(`pstc: disk full (${code}): ${(e as Error).message}; nothing half-written was kept (a run's last checkpoint stays its latest) — free space and run again (train: --resume)`);
      return 1;
    }
    const err = e as Error;
    io.err(`pstc: internal error (a bug in pstc, not in your input): ${err?.message ?? String(e)}`);
    if (process.env.PSTC_DEBUG) io.err(err?.stack ?? '');
    else io.err('set PSTC_DEBUG=1 to see the stack trace');
    return 70;
  }
}

/** The text of every file the diagnostics point into, so each is shown with its source line. */
function sourcesOf(diagnostics: readonly Diagnostic[]): Map<string, string> {
  const sources = new Map<string, string>();
  for (const d of diagnostics) {
    const file = d.span?.file;
    if (!file || sources.has(file)) continue;
    // Read as the front end read it (BOM dropped, devices and huge files refused); a span into a
    // file that is gone still renders, without its source line.
    const text = readFromDisk(file);
    if (typeof text === 'string') sources.set(file, text);
  }
  return sources;
}
