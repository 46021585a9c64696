// Video decoding with the FFmpeg binary that the `@ffmpeg-installer/ffmpeg` npm package ships (no
// system install). A video is probed once (frame count by stream copy, no decoding; size from the
// stream header); a clip's frames are then decoded in one run that outputs only the selected ones
// as raw RGB. Each run is started by a small helper process (ffmpeg-host.ts), not by pstc's own.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dataError } from './errors.js';
import { runHosted, type HostedRun } from './ffmpeg-host.js';

let cachedPath: string | undefined;

/** The shipped ffmpeg's path, or PST615 when the package or its binary for this platform is missing. */
export function ffmpegPath(): string {
  if (cachedPath) return cachedPath;
  try {
    const installer = createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string };
    cachedPath = installer.path;
    return cachedPath;
  } catch (e) {
    throw dataError('PST615', `cannot find the FFmpeg that decodes videos: ${(e as Error).message.split('\n')[0]}`, {
      hint: `reinstall pstc's dependencies (npm install) so that @ffmpeg-installer/ffmpeg brings its binary for ${process.platform}-${process.arch}`,
    });
  }
}

/** FFmpeg run from this process: what run() falls back to when the helper process cannot run. */
function runHere(path: string, args: string[], maxBuffer: number): Promise<HostedRun> {
  return new Promise((resolve) => {
    execFile(path, args, { encoding: 'buffer', maxBuffer }, (error, stdout, stderr) => {
      const spawnError = error as (NodeJS.ErrnoException & { code?: number | string }) | null;
      if (spawnError && typeof spawnError.code === 'string') {
        resolve({ stdout, stderr: '', code: 1, spawnError: spawnError.message });
        return;
      }
      resolve({ stdout, stderr: stderr.toString('utf8'), code: spawnError ? Number(spawnError.code ?? 1) : 0 });
    });
  });
}

/** Runs FFmpeg (through the helper process: ffmpeg-host.ts) and returns its output and exit code. */
async function run(args: string[], maxBuffer = 1 << 30): Promise<{ stdout: Buffer; stderr: string; code: number }> {
  const path = ffmpegPath();
  const result = await runHosted(path, args, maxBuffer).catch(() => runHere(path, args, maxBuffer));
  if (result.spawnError !== undefined) {
    throw dataError('PST615', `cannot run FFmpeg (${path}): ${result.spawnError}`, { hint: 'check that the binary exists and is executable; reinstall with npm install' });
  }
  return result;
}

export interface VideoInfo {
  frames: number;
  width: number;
  height: number;
}

/** Why FFmpeg failed, in one line: its last message that is not progress. */
function lastError(stderr: string): string {
  const lines = stderr.split(/\r?\n|\r/).map((l) => l.trim()).filter((l) => l && !l.startsWith('frame='));
  return lines[lines.length - 1] ?? 'no message';
}

/** Frame count and size of the first video stream; throws a plain Error with FFmpeg's reason. */
export async function probeVideo(file: string): Promise<VideoInfo> {
  const { stderr, code } = await run(['-hide_banner', '-nostdin', '-i', file, '-map', '0:v:0', '-c', 'copy', '-f', 'null', '-']);
  if (code !== 0) throw new Error(lastError(stderr));
  const size = /Stream #\d+:\d+.*?: Video: .*?(\d{2,5})x(\d{2,5})/.exec(stderr);
  const counts = [...stderr.matchAll(/frame=\s*(\d+)/g)];
  const frames = counts.length ? Number(counts[counts.length - 1]![1]) : 0;
  if (!size || frames === 0) throw new Error(size ? 'the video stream has no frames' : 'no video stream');
  return { frames, width: Number(size[1]), height: Number(size[2]) };
}

/**
 * Decodes the frames with the given indices (0-based, any order, repeats allowed) as RGB24, each
 * width·height·3 bytes. FFmpeg's select filter keeps only those frames, so nothing else is
 * converted or piped.
 */
export async function decodeVideoFrames(file: string, indices: readonly number[], info: VideoInfo): Promise<Buffer[]> {
  const unique = [...new Set(indices)].sort((a, b) => a - b);
  const select = unique.map((n) => `eq(n\\,${n})`).join('+');
  const { stdout, stderr, code } = await run(['-hide_banner', '-nostdin', '-v', 'error', '-i', file, '-map', '0:v:0', '-vf', `select=${select}`, '-vsync', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-']);
  const frameBytes = info.width * info.height * 3;
  if (code !== 0) throw new Error(lastError(stderr));
  if (stdout.length !== unique.length * frameBytes) {
    throw new Error(`decoded ${Math.floor(stdout.length / frameBytes)} of the ${unique.length} frames asked for (frames ${unique.join(', ')} of ${info.frames})`);
  }
  const byIndex = new Map(unique.map((n, k) => [n, stdout.subarray(k * frameBytes, (k + 1) * frameBytes)]));
  return indices.map((n) => byIndex.get(n)!);
}

/** Encodes RGB24 frames as an H.264 MP4 (tests and fixtures). */
export async function encodeVideo(file: string, frames: readonly Buffer[], width: number, height: number, fps = 8): Promise<void> {
  const path = ffmpegPath();
  await new Promise<void>((resolve, reject) => {
    const child = execFile(
      path,
      ['-hide_banner', '-nostdin', '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', '-', '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-pix_fmt', 'yuv444p', file],
      (error, _stdout, stderr) => (error ? reject(new Error(`ffmpeg could not encode ${file}: ${String(stderr).trim() || error.message}`)) : resolve()),
    );
    for (const f of frames) child.stdin!.write(f);
    child.stdin!.end();
  });
}
