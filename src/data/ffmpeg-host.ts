// FFmpeg runs started from a small helper process rather than from pstc's own. Starting a process
// forks the one that starts it, and a training process holds hundreds of MiB (lavapipe, the plan's
// buffers): from it, one FFmpeg per clip ran at 15–22 clips/s on the 2-core machine, against
// 85–136 from a bare Node (measured: 64 clips of synthetic:motion exported as MP4s, 1–8 at once).
// The helper is a bare Node started once per thread that decodes videos; it runs each FFmpeg it is
// sent and returns its output. It exits when its parent goes (its IPC channel closes), and while
// nothing is under way it keeps no process alive.
import { spawn, type ChildProcess } from 'node:child_process';

export interface HostedRun {
  stdout: Buffer;
  stderr: string;
  /** FFmpeg's exit code; 1 when it could not be started (then spawnError says why). */
  code: number;
  /** Why the binary could not be started (ENOENT, EACCES: the message), if it could not. */
  spawnError?: string;
}

interface Reply {
  id: number;
  stdout?: Uint8Array;
  stderr?: string;
  code?: number;
  spawnError?: string;
}

// The helper, as a CommonJS script for `node -e` (no file to ship or find, from dist/ or sources).
const HOST_SOURCE = `
const { execFile } = require('node:child_process');
process.on('disconnect', () => process.exit(0));
process.on('message', ({ id, path, args, maxBuffer }) => {
  execFile(path, args, { encoding: 'buffer', maxBuffer }, (error, stdout, stderr) => {
    if (error && typeof error.code === 'string') {
      process.send({ id, spawnError: error.message });
      return;
    }
    process.send({ id, stdout, stderr: stderr.toString('utf8'), code: error ? Number(error.code ?? 1) : 0 });
  });
});
`;

class FfmpegHost {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (r: HostedRun) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failed: Error | undefined;

  constructor() {
    this.child = spawn(process.execPath, ['-e', HOST_SOURCE], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
    this.child.on('message', (reply: Reply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      this.idle();
      waiting.resolve({
        stdout: reply.stdout ? Buffer.from(reply.stdout.buffer, reply.stdout.byteOffset, reply.stdout.byteLength) : Buffer.alloc(0),
        stderr: reply.stderr ?? '',
        code: reply.code ?? 1,
        spawnError: reply.spawnError,
      });
    });
    const fail = (e: Error) => {
      this.failed ??= e;
      for (const { reject } of this.pending.values()) reject(e);
      this.pending.clear();
    };
    this.child.on('error', fail);
    this.child.on('exit', (code, signal) => fail(new Error(`the FFmpeg helper process exited (${signal ?? `code ${code}`})`)));
    this.idle();
  }

  get usable(): boolean {
    return this.failed === undefined;
  }

  run(path: string, args: readonly string[], maxBuffer: number): Promise<HostedRun> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise<HostedRun>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.busy();
      this.child.send({ id, path, args, maxBuffer }, (e) => {
        if (!e || !this.pending.has(id)) return;
        this.pending.delete(id);
        this.idle();
        reject(e);
      });
    });
  }

  private busy(): void {
    this.child.ref();
    this.child.channel?.ref();
  }

  private idle(): void {
    if (this.pending.size) return;
    this.child.unref();
    this.child.channel?.unref();
  }
}

let host: FfmpegHost | undefined;

/**
 * Runs the binary at `path` with `args` through this thread's helper process (started on first
 * use; started again if it died). Rejects only when the helper itself cannot run it.
 */
export function runHosted(path: string, args: readonly string[], maxBuffer: number): Promise<HostedRun> {
  if (!host?.usable) host = new FfmpegHost();
  return host.run(path, args, maxBuffer);
}
