#!/usr/bin/env node
// The pstc command. Runs the compiled CLI in dist/ (built by `npm run build` or scripts/setup.sh).
//
// The CLI runs in a child process whose stderr passes through this one, less the driver's chatter:
// Dawn prints warnings such as "maxDynamicUniformBuffersPerPipelineLayout artificially reduced"
// from native code straight to file descriptor 2 whenever a device is opened, where no JavaScript
// can catch them. A user sees pstc's own output only (PSTC_DRIVER_LOG=1 shows Dawn's lines too).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(entry)) {
  console.error('pstc: the compiled CLI is missing (dist/). Run `bash scripts/setup.sh` or `npm run build` first.');
  process.exit(2);
}
process.env.XDG_RUNTIME_DIR ??= '/tmp';

/** Lines of the driver that are not pstc's to show. */
const DRIVER_LINE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced /;

if (process.env.PSTC_CLI_CHILD === '1' || process.env.PSTC_DRIVER_LOG === '1') {
  // Run by the wrapper below: die with it. A wrapper killed outright (SIGKILL, the OOM killer) cannot
  // pass anything on, and this detached process would go on training and writing the run directory
  // that a `--resume` is about to use. The IPC channel closes when the wrapper dies however it dies;
  // it is unref'd so that it keeps nothing alive.
  if (process.env.PSTC_CLI_CHILD === '1' && process.channel) {
    process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
    process.channel.unref();
  }
  const { main } = await import(pathToFileURL(entry).href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  const { spawn } = await import('node:child_process');
  const terminal = process.stderr.isTTY ? { PSTC_ERR_TTY: '1' } : {};
  // Its own process group: a Ctrl-C at the terminal reaches this process only, which passes it on
  // once (the CLI counts them: the first stops after a checkpoint, the second at once).
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, PSTC_CLI_CHILD: '1', ...terminal },
    detached: true,
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    const kept = lines.filter((l) => !DRIVER_LINE.test(l));
    let out = kept.length ? `${kept.join('\n')}\n` : '';
    // A partial line (a live progress line) goes out at once unless it may be a driver line.
    if (!'Warning: '.startsWith(pending.slice(0, 9)) || (pending.length >= 9 && !pending.startsWith('Warning: '))) {
      out += pending;
      pending = '';
    }
    if (out) process.stderr.write(out);
  });
  child.on('close', (code, signal) => {
    if (pending && !DRIVER_LINE.test(pending)) process.stderr.write(pending);
    if (signal) {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeAllListeners(s);
      process.kill(process.pid, signal);
    } else process.exitCode = code ?? 1;
  });
}
