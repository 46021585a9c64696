// Where CLI commands write, so that tests can run commands in-process and read what they printed.
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  color: boolean;
  /** Whether `err` is a terminal (progress draws a live line there, plain lines elsewhere). */
  errIsTerminal?: boolean;
}

export const processIO: CliIO = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
  // PSTC_ERR_TTY: bin/pstc.js runs the CLI with stderr piped through itself (to drop the driver's
  // lines) and says that its own stderr is a terminal.
  errIsTerminal: Boolean(process.stderr.isTTY) || process.env.PSTC_ERR_TTY === '1',
};

/** Collects output in memory (tests). */
export function memoryIO(): CliIO & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    color: false,
    out(t: string) {
      io.stdout += t.endsWith('\n') ? t : `${t}\n`;
    },
    err(t: string) {
      io.stderr += t.endsWith('\n') ? t : `${t}\n`;
    },
  };
  return io;
}
