// Video decoding with the FFmpeg binary that the `@ffmpeg-installer/ffmpeg` npm package ships (no
// system install). A video is probed once (frame count by stream copy, no decoding; size from the
// stream header); a clip's frames are then decoded in one run that outputs only the selected ones
// as raw RGB. Each run is started by a small helper process (ffmpeg-host.ts), not by pstc's own.
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
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

/**
 * The largest video frame decoded (width × height): 4096 × 4096, four times a 4K frame. A frame
 * of a video is a size in its header, not in the file's bytes (a 107 KB H.264 file can say
 * 6000 × 6000); sharp refuses larger images the same way.
 */
export const MAX_VIDEO_PIXELS = 4096 * 4096;
/** The most frames a video may have (a day at 30 frames/s beyond it): the count comes from the file. */
export const MAX_VIDEO_FRAMES = 30 * 3600 * 24;
/** The most bytes of decoded RGB one clip's frames take (the buffer FFmpeg's output is read into). */
export const MAX_DECODED_BYTES = 1 << 30;

/**
 * FFmpeg's input for a user's path: only a local regular file, opened through the `file:`
 * protocol alone. A path that reads as a URL (`http:/host/x.mp4`, `concat:a|b`, `pipe:0`) is then a
 * file name, never a fetch; a FIFO or a device is refused before FFmpeg could block on it.
 */
export function localInput(file: string): string[] {
  const path = resolve(file);
  let stat;
  try {
    stat = statSync(path);
  } catch (e) {
    throw new Error((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message);
  }
  if (stat.isDirectory()) throw new Error('it is a folder, not a video file');
  if (!stat.isFile()) throw new Error('it is not a regular file (a device, a FIFO or a socket): only video files are read');
  return ['-protocol_whitelist', 'file', '-i', `file:${path}`];
}

/** Frame count and size of the first video stream; throws a plain Error with FFmpeg's reason. */
export async function probeVideo(file: string): Promise<VideoInfo> {
  const { stderr, code } = await run(['-hide_banner', '-nostdin', ...localInput(file), '-map', '0:v:0', '-c', 'copy', '-f', 'null', '-']);
  if (code !== 0) throw new Error(lastError(stderr));
  const size = /Stream #\d+:\d+.*?: Video: .*?(\d{2,5})x(\d{2,5})/.exec(stderr);
  const counts = [...stderr.matchAll(/frame=\s*(\d+)/g)];
  const frames = counts.length ? Number(counts[counts.length - 1]![1]) : 0;
  if (!size || frames === 0) throw new Error(size ? 'the video stream has no frames' : 'no video stream');
  const info = { frames, width: Number(size[1]), height: Number(size[2]) };
  checkVideoSize(info);
  return info;
}

/** Refuses, before anything is decoded, a video whose frames are larger than pstc decodes. */
export function checkVideoSize(info: VideoInfo): void {
  const pixels = info.width * info.height;
  if (!(info.width > 0 && info.height > 0) || pixels > MAX_VIDEO_PIXELS) {
    throw new Error(`its frames are ${info.width}×${info.height} (${pixels} pixels); at most ${MAX_VIDEO_PIXELS} (4096×4096) are decoded — scale the video down first (ffmpeg -vf scale=…)`);
  }
  if (info.frames > MAX_VIDEO_FRAMES) throw new Error(`it has ${info.frames} frames; at most ${MAX_VIDEO_FRAMES} are read`);
}

/**
 * Decodes the frames with the given indices (0-based, any order, repeats allowed) as RGB24, each
 * width·height·3 bytes. FFmpeg's select filter keeps only those frames, so nothing else is
 * converted or piped.
 */
export async function decodeVideoFrames(file: string, indices: readonly number[], info: VideoInfo): Promise<Buffer[]> {
  const unique = [...new Set(indices)].sort((a, b) => a - b);
  checkVideoSize(info);
  const frameBytes = info.width * info.height * 3;
  if (unique.length * frameBytes > MAX_DECODED_BYTES) {
    throw new Error(`${unique.length} frames of ${info.width}×${info.height} are ${unique.length * frameBytes} bytes decoded; at most ${MAX_DECODED_BYTES} per clip`);
  }
  const select = unique.map((n) => `eq(n\\,${n})`).join('+');
  const { stdout, stderr, code } = await run(
    ['-hide_banner', '-nostdin', '-v', 'error', ...localInput(file), '-map', '0:v:0', '-vf', `select=${select}`, '-vsync', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    MAX_DECODED_BYTES + frameBytes, // bounded; a count other than asked is said below
  );
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
