// Runs a pstc command in-process, as the CLI tests do: exit code and what it printed.
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

export async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = memoryIO();
  const code = await main(args, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}
