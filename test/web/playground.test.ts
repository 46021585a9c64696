// The browser playground, used as a person would in headless Chromium (Debian's `chromium`,
// driven by puppeteer-core; no browser download): the page loads pst-tiny and shows what
// `pstc explain` shows; a typed mistake is underlined with its diagnostic at the right line; a
// changed pattern redraws the picture and the receptive-field table; fmt runs on its key; pst-tiny
// runs on the page's WebGPU adapter with the logits of `pstc run` on the same weights and clip;
// `download .onnx` saves the ONNX file that exportOnnx makes in Node (ONNX Runtime gives the same
// logits); without WebGPU the page says so and the rest works. Screenshots go to $PSTC_SCREENSHOTS
// (default out/web-screenshots/). Skipped, saying why, only when Chromium is absent and PSTC_NO_CHROMIUM=1.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { explainModel } from '../../src/cli/explain-report.js';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { pageServer } from '../../src/cli/commands/serve.js';
import { formatCount, formatMacs } from '../../src/cli/table.js';
import { loadModel } from '../../src/lang/elaborate.js';
import { formatSource } from '../../src/lang/format.js';
import { readFromDisk } from '../../src/lang/read-disk.js';
import { randomClip } from '../../src/cli/clips.js';
import { readNpy, writeNpy } from '../../src/weights/npy.js';
import { freshSeed, maxNormRelativeError } from '../webgpu/util.js';
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { exportOnnx } from '../../backends/onnx/export.js';
import { decodeModel } from '../../backends/onnx/write.js';
import { initWeights } from '../../src/weights/init.js';
import { PSTC_VERSION } from '../../src/cli/version.js';
// @ts-expect-error: a plain .mjs build script, no types
import { buildWeb } from '../../web/build.mjs';

const CHROMIUM = process.env.PSTC_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.resolve(process.env.PSTC_SCREENSHOTS ?? 'out/web-screenshots');
const MODEL = 'models/tiny/pst-tiny.pst';
// WebGPU in headless Chromium on a machine without a GPU (../shared notes): Vulkan (lavapipe)
// through ANGLE's OpenGL ES, offered at the compatibility level; SwiftShader otherwise.
const FLAGS = ['--no-sandbox', '--enable-unsafe-webgpu', '--use-angle=vulkan', '--use-webgpu-adapter=opengles', '--ignore-gpu-blocklist'];

async function launch(args: string[]): Promise<Browser> {
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args, protocolTimeout: 240_000 });
}

// Chromium must start for these tests to mean anything. Skipped (counted so) only where it is
// absent and setup was told not to install it (PSTC_NO_CHROMIUM=1); missing otherwise, or failing
// to start, is a failure of this file.
let skipReason: string | undefined;
if (!existsSync(CHROMIUM)) {
  if (process.env.PSTC_NO_CHROMIUM !== '1') throw new Error(`no Chromium at ${CHROMIUM}: bash scripts/setup.sh installs Debian's chromium (PSTC_CHROMIUM names another; PSTC_NO_CHROMIUM=1 skips these tests)`);
  skipReason = `no Chromium at ${CHROMIUM} and PSTC_NO_CHROMIUM=1`;
} else {
  try {
    await (await launch(['--no-sandbox'])).close();
  } catch (e) {
    throw new Error(`Chromium at ${CHROMIUM} cannot start: ${(e as Error).message.split('\n')[0]}`);
  }
}
if (skipReason) console.warn(`test/web/playground.test.ts skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('the playground in headless Chromium', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pstc-web-'));
  const site = path.join(dir, 'site');
  // The server resolves its folder when made (symlinks out of it are refused): make it first; the build fills it.
  mkdirSync(site, { recursive: true });
  const server = pageServer(site);
  let url = '';
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  const shot = async (name: string) => {
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, name), fullPage: true });
  };
  /** Select `word` on line `line` (from 1) of the editor, as a double-click would, then type `text` over it. */
  const typeOver = async (line: number, word: string, text: string) => {
    await page.evaluate(
      (line, word) => {
        const view = (window as unknown as { pstcEditor: import('@codemirror/view').EditorView }).pstcEditor;
        const l = view.state.doc.line(line);
        const at = l.text.indexOf(word);
        if (at < 0) throw new Error(`no \`${word}\` on line ${line}: ${l.text}`);
        view.dispatch({ selection: { anchor: l.from + at, head: l.from + at + word.length } });
        view.focus();
      },
      line,
      word,
    );
    await page.keyboard.type(text);
  };
  const editorText = () => page.evaluate(() => (window as unknown as { pstcEditor: import('@codemirror/view').EditorView }).pstcEditor.state.doc.toString());

  beforeAll(async () => {
    await buildWeb({ outdir: site, quiet: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await launch(FLAGS);
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.setViewport({ width: 1500, height: 1100 });
    await page.goto(url);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('loads pst-tiny: its explain table, pattern picture, receptive field and principles, as the CLI computes them', async () => {
    await page.waitForSelector('#cost-table', { timeout: 60_000 });
    const { model } = loadModel(MODEL, undefined, readFromDisk);
    const report = explainModel(model, { ...model.input });
    const total = await page.$eval('#cost-table tbody tr:last-child', (tr) => [...tr.children].map((td) => td.textContent));
    expect(total[0]).toBe('total');
    expect(total[2]).toBe(formatCount(report.cost.total.params));
    const rows = await page.$$eval('#cost-table tbody tr', (trs) => trs.length);
    expect(rows).toBe(report.cost.parts.length + 1);
    const svg = await page.$eval('#patterns figure svg', (s) => s.textContent ?? '');
    for (const label of ['d-4', 'd+4', 'd+1']) expect(svg).toContain(label);
    const rf = await page.$$eval('#rf tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    expect(rf.length).toBe(report.receptiveField.length);
    expect(await page.$$eval('#principles li', (l) => l.length)).toBeGreaterThan(0);
    expect(await page.$eval('#diagnostics', (e) => (e as HTMLElement).dataset.count)).toBe('0');
    expect(await page.$eval('#variant', (s) => (s as HTMLSelectElement).value)).toBe('pst_t_tiny');
    // The adapter request answers on its own time (seconds on a loaded 2-core machine): wait for it.
    await page.waitForFunction(() => !document.getElementById('webgpu')?.textContent?.startsWith('looking for'), { timeout: 60_000 });
    expect(await page.$eval('#webgpu', (e) => e.textContent)).toMatch(/^WebGPU adapter/);
    await shot('01-pst-tiny-loaded.png');
    expect(errors).toEqual([]);
  }, 90_000);

  test('a typed mistake is underlined, with its code, line and hint', async () => {
    // Line 23 of pst-tiny.pst: `stage 1 { depth = 2  heads = 2 }`.
    await typeOver(23, 'heads', 'haeds');
    const item = await page.waitForSelector('#diagnostics li[data-line="23"]', { timeout: 30_000 });
    const text = await item!.evaluate((li) => li.textContent ?? '');
    expect(text).toMatch(/models\/tiny\/pst-tiny\.pst:23:\d+ error PST\d{3}/);
    expect(text).toContain('haeds');
    expect(text).toContain('heads'); // the "did you mean" hint
    expect(await page.$$eval('.cm-lintRange-error', (l) => l.length)).toBeGreaterThan(0);
    await shot('02-mistake-diagnostic.png');
    await typeOver(23, 'haeds', 'heads');
    await page.waitForSelector('#diagnostics[data-count="0"]', { timeout: 30_000 });
  }, 60_000);

  test('changing the pattern redraws the picture and the receptive-field table', async () => {
    const before = {
      svg: await page.$eval('#patterns figure svg', (s) => s.textContent ?? ''),
      rf: await page.$eval('#rf', (e) => e.textContent ?? ''),
    };
    // Line 19: `patch_shift   = pattern_c` (reach 4) → pattern_a (a 3×3 Latin square of reach 1).
    await typeOver(19, 'pattern_c', 'pattern_a');
    await page.waitForFunction((old) => document.querySelector('#patterns figure svg')?.textContent !== old, { timeout: 30_000 }, before.svg);
    const svg = await page.$eval('#patterns figure svg', (s) => s.textContent ?? '');
    expect(svg).toContain('pattern_a');
    expect(svg).toContain('d-1');
    expect(svg).not.toContain('d-4');
    // The table the page shows is the one the CLI computes for the edited text.
    const edited = await editorText();
    const { model } = loadModel(MODEL, undefined, (f) => (f === MODEL ? edited : readFromDisk(f)));
    const expected = explainModel(model, { ...model.input }).receptiveField.map((r) => `${r.reachableFrames}/${r.frames}`);
    const rf = await page.$$eval('#rf tbody tr', (trs) => trs.map((tr) => tr.lastElementChild?.textContent));
    expect(rf).toEqual(expected);
    expect(await page.$eval('#rf', (e) => e.textContent ?? '')).not.toBe(before.rf);
    await shot('03-pattern-changed.png');
    await typeOver(19, 'pattern_a', 'pattern_c');
    await page.waitForFunction((old) => document.querySelector('#patterns figure svg')?.textContent === old, { timeout: 30_000 }, before.svg);
  }, 60_000);

  test('fmt on Shift-Alt-F gives the text `pstc fmt` writes', async () => {
    const original = await editorText();
    await typeOver(23, 'depth = 2', 'depth   =    2');
    await page.keyboard.down('Shift');
    await page.keyboard.down('Alt');
    await page.keyboard.press('KeyF');
    await page.keyboard.up('Alt');
    await page.keyboard.up('Shift');
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'formatted', { timeout: 30_000 });
    const formatted = await editorText();
    expect(formatted).toBe(formatSource(original.replace('depth = 2', 'depth   =    2'), MODEL).formatted);
    // Restore the file exactly (fmt may lay it out differently from the hand-written original).
    await page.evaluate((text) => {
      const view = (window as unknown as { pstcEditor: import('@codemirror/view').EditorView }).pstcEditor;
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    }, original);
  }, 60_000);

  test('runs pst-tiny on the page’s WebGPU adapter with the logits of `pstc run` (same weights, same clip)', async () => {
    const seed = freshSeed();
    const clipFile = path.join(dir, 'clip.npy');
    const shape = [2, 3, 8, 32, 32];
    writeFileSync(clipFile, writeNpy(shape, randomClip(shape, seed)));
    const out = path.join(dir, 'logits.npy');
    const io = memoryIO();
    expect(await main(['run', MODEL, '--random-weights', '1', '--input', clipFile, '--out', out, '--backend', 'webgpu'], io)).toBe(0);
    const expected = readNpy(readFileSync(out)).data;

    expect(await editorText()).toBe(readFileSync(MODEL, 'utf8')); // the file `pstc run` reads
    const input = await page.$('#clip-file');
    await (input as import('puppeteer-core').ElementHandle<HTMLInputElement>).uploadFile(clipFile);
    await page.waitForFunction(() => document.getElementById('clip-name')?.textContent?.includes('clip.npy'));
    await page.$eval('#weights-seed', (e) => ((e as HTMLInputElement).value = '1'));
    await page.click('#run');
    await page.waitForSelector('#run-result[data-state="done"], #run-result[data-state="failed"]', { timeout: 200_000 });
    const state = await page.$eval('#run-result', (e) => ({ state: (e as HTMLElement).dataset.state, text: e.textContent, logits: (e as HTMLElement).dataset.logits }));
    expect(state.state, state.text ?? '').toBe('done');
    const logits = Float32Array.from(JSON.parse(state.logits!) as number[]);
    expect(logits.length).toBe(expected.length);
    expect(maxNormRelativeError(logits, expected)).toBeLessThanOrEqual(1e-4);
    expect(state.text).toMatch(/forward \d+(\.\d)? ms/);
    await page.$eval('#kernels', (e) => ((e.parentElement as HTMLDetailsElement).open = true));
    await page.$eval('#kernels details.kernel', (e) => ((e as HTMLDetailsElement).open = true));
    expect(await page.$$eval('#kernels details.kernel', (l) => l.length)).toBeGreaterThan(5);
    expect(await page.$eval('#kernels details.kernel pre', (e) => e.textContent)).toContain('@compute');
    await shot('04-pst-tiny-run.png');
    await (await page.$('#run-panel'))!.screenshot({ path: path.join(SHOTS, '04b-run-panel.png') });
    expect(errors).toEqual([]);
  }, 240_000);

  test('download .onnx saves the chosen model as exportOnnx makes it in Node: same logits in ONNX Runtime, playground provenance', async () => {
    const seed = 1 + (freshSeed() % 1000);
    const downloads = path.join(dir, 'downloads');
    mkdirSync(downloads, { recursive: true });
    const cdp = await page.createCDPSession();
    const done = new Promise<string>((resolve, reject) => {
      cdp.on('Browser.downloadProgress', (e: { state: string }) => {
        if (e.state === 'completed') resolve('completed');
        else if (e.state === 'canceled') reject(new Error('the download was canceled'));
      });
    });
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads, eventsEnabled: true });
    expect(await editorText()).toBe(readFileSync(MODEL, 'utf8'));
    await page.$eval('#weights-seed', (e, s) => ((e as HTMLInputElement).value = String(s)), seed);
    const started = Date.now();
    await page.click('#download-onnx');
    await page.waitForSelector('#download-onnx[data-state="done"], #download-onnx[data-state="failed"]', { timeout: 60_000 });
    const status = await page.$eval('#status', (e) => e.textContent ?? '');
    expect(await page.$eval('#download-onnx', (e) => (e as HTMLElement).dataset.state), status).toBe('done');
    const { model } = loadModel(MODEL, undefined, readFromDisk);
    const input = { ...model.input };
    const shapes = (shape: number[]) => shape.join('×');
    const node = exportOnnx(model, input, initWeights(model, seed), { provenance: { version: PSTC_VERSION } }); // the same model and weights, exported in Node
    expect(status).toContain(`exported pst_t_tiny.onnx: clip ${shapes(node.inputShape)} → ${node.outputs.map((o) => `${o.name} ${shapes(o.shape)}`).join(', ')}`);
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error('no download within 30 s')), 30_000))]);
    await cdp.detach();
    const file = path.join(downloads, 'pst_t_tiny.onnx');
    expect(existsSync(file)).toBe(true);
    const bytes = new Uint8Array(readFileSync(file));
    console.log(`download .onnx: ${bytes.byteLength} bytes in ${Date.now() - started} ms (weights seed ${seed})`);

    const sha256 = createHash('sha256').update(readFileSync(MODEL)).digest('hex');
    const meta = Object.fromEntries(((decodeModel(bytes) as { metadata_props: { key: string; value: string }[] }).metadata_props).map((e) => [e.key, e.value]));
    expect(meta['pstc.origin']).toBe('playground');
    expect(meta['pstc.version']).toBe(PSTC_VERSION);
    expect(meta['pstc.model']).toBe('pst_t_tiny');
    expect(meta['pstc.source']).toBe('pst-tiny.pst');
    expect(meta['pstc.source_sha256']).toBe(sha256); // as the CLI records it: SHA-256 of the file's bytes
    expect(meta['pstc.input_shape']).toBe(node.inputShape.join('x'));

    const clip = randomClip(node.inputShape, seed);
    const run = async (model: Uint8Array) => {
      const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 2 });
      try {
        expect(session.inputNames).toEqual(['clip']);
        expect(session.outputNames).toEqual(node.outputs.map((o) => o.name));
        const out = await session.run({ clip: new ort.Tensor('float32', clip, node.inputShape) });
        expect([...out.logits!.dims]).toEqual(node.outputs[0]!.shape);
        return out.logits!.data as Float32Array;
      } finally {
        await session.release();
      }
    };
    const [page_, expected] = [await run(bytes), await run(node.model)];
    expect(page_.length).toBe(expected.length);
    expect(maxNormRelativeError(page_, expected)).toBeLessThanOrEqual(1e-6); // the same weights, graph and runtime
    expect(errors).toEqual([]);
  }, 120_000);

  test('a sweep file: pick a variant and compare it with another, as `explain` computes them', async () => {
    const file = 'models/tiny/ablations-tiny.pst';
    await page.select('#file', file);
    await page.waitForFunction(() => [...document.querySelectorAll('#variant option')].some((o) => o.textContent?.includes('[')), { timeout: 30_000 });
    const names = await page.$$eval('#variant option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    const a = names.find((n) => n.includes('patch_shift=pattern_a,shifts=all(tps)'))!;
    const b = names.find((n) => n.includes('patch_shift=pattern_c,shifts=all(tps)'))!;
    expect(a && b).toBeTruthy();
    await page.select('#variant', a);
    await page.waitForFunction((a) => document.querySelector('#cost .model-name')?.textContent === a, { timeout: 30_000 }, a);
    await page.select('#compare', b);
    await page.waitForSelector('#comparison table', { timeout: 30_000 });
    const header = await page.$$eval('#comparison th', (ths) => ths.map((th) => th.textContent));
    expect(header).toEqual(['', a, b, 'ratio']);
    const macsRow = await page.$$eval('#comparison tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)).find((r) => r[0] === 'MACs'));
    const [ma, mb] = [a, b].map((n) => explainModel(loadModel(file, n, readFromDisk).model, loadModel(file, n, readFromDisk).model.input).cost.total.macs);
    expect(macsRow!.slice(1, 3)).toEqual([formatMacs(ma!), formatMacs(mb!)]);
    await shot('06-sweep-compare.png');
    await page.select('#file', MODEL);
    await page.waitForFunction(() => document.querySelector('#cost .model-name')?.textContent === 'pst_t_tiny', { timeout: 30_000 });
  }, 60_000);

  test('share link: the URL carries the edited file, and opening it restores the text', async () => {
    await typeOver(24, 'heads = 4', 'heads = 8');
    const text = await editorText();
    await page.click('#share');
    const link = await page.$eval('#share-link', (e) => (e as HTMLInputElement).value);
    expect(link).toContain('#file=models%2Ftiny%2Fpst-tiny.pst&src=');
    const other = await browser.newPage();
    try {
      await other.goto(link);
      await other.waitForSelector('#cost-table', { timeout: 60_000 });
      const opened = await other.evaluate(() => (window as unknown as { pstcEditor: import('@codemirror/view').EditorView }).pstcEditor.state.doc.toString());
      expect(opened).toBe(text);
    } finally {
      await other.close();
    }
    await typeOver(24, 'heads = 8', 'heads = 4');
  }, 60_000);

  test('without WebGPU the page says so, and checking and explaining still work', async () => {
    const plain = await launch(['--no-sandbox', '--disable-blink-features=WebGPU']);
    try {
      const p = await plain.newPage();
      await p.setViewport({ width: 1500, height: 900 });
      await p.goto(url);
      await p.waitForSelector('#cost-table', { timeout: 60_000 });
      await p.waitForFunction(() => document.getElementById('webgpu')?.textContent?.startsWith('No WebGPU'), { timeout: 30_000 });
      mkdirSync(SHOTS, { recursive: true });
      const note = await p.$eval('#webgpu', (e) => e.textContent ?? '');
      expect(note).toContain('Editing, checking, explain and the pictures work');
      await (await p.$('#run-panel'))!.screenshot({ path: path.join(SHOTS, '05-no-webgpu.png') });
    } finally {
      await plain.close();
    }
  }, 90_000);
});
