// The playground page: a .pst editor (CodeMirror 6, highlighted by our TextMate grammar) whose
// text the compiler worker checks, explains and plans as the user types, and runs on the
// browser's WebGPU adapter on demand. The page only shows what the worker computes.
import { EditorView, basicSetup } from 'codemirror';
import { keymap } from '@codemirror/view';
import { EditorState } from '@codemirror/state';
import { lintGutter, setDiagnostics, type Diagnostic as CmDiagnostic } from '@codemirror/lint';
import models from 'pstc:models';
import grammar from '../../grammar/pst.tmLanguage.json';
import { formatBytes, formatCount, formatMacs } from '../../src/cli/table.js';
import { tmLanguage, type TmGrammar } from './tm-highlight.js';
import { decodeShare, encodeShare } from './share.js';
import type { Explained, PageDiagnostic, Reply, Request, Summary } from './protocol.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

const DEFAULT_FILE = 'models/tiny/pst-tiny.pst';
const CHECK_DELAY_MS = 200;

// ---- State: the file shown, the texts the user changed (by path), the chosen variants.
let path = DEFAULT_FILE;
const edited: Record<string, string> = {};
let variant: string | undefined;
let compare: string | undefined;

// Two workers: one checks as the user types, one runs on WebGPU, so a run never delays a check.
const checker = new Worker('worker.js');
const runner = new Worker('worker.js');
let nextId = 1;
let checkInFlight = false;
let checkWanted = false;
let formatId = 0;
let runId = 0;
let exportId = 0;

// ---- The editor.
const formatKey = 'Shift-Alt-f';
const view = new EditorView({
  parent: $('editor'),
  state: EditorState.create({
    doc: '',
    extensions: [
      basicSetup,
      tmLanguage(grammar as unknown as TmGrammar),
      lintGutter(),
      keymap.of([{ key: formatKey, preventDefault: true, run: () => (requestFormat(), true) }]),
      EditorView.updateListener.of((u) => {
        if (!u.docChanged) return;
        edited[path] = u.state.doc.toString();
        scheduleCheck();
      }),
    ],
  }),
});

function currentText(): string {
  return view.state.doc.toString();
}

function showFile(file: string, text: string): void {
  path = file;
  ($('file') as HTMLSelectElement).value = file;
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
  edited[path] = text;
  variant = undefined;
  compare = undefined;
  scheduleCheck(0);
}

// ---- Checking as the user types: at most one check in flight, the newest text sent next.
let checkTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleCheck(delay = CHECK_DELAY_MS): void {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(sendCheck, delay);
}

function sendCheck(): void {
  if (checkInFlight) {
    checkWanted = true;
    return;
  }
  checkInFlight = true;
  $('status').textContent = 'checking…';
  const req: Request = { kind: 'check', id: nextId++, path, files: { ...edited }, model: variant, compare };
  checker.postMessage(req);
}

checker.onmessage = (event: MessageEvent<Reply>) => {
  const reply = event.data;
  if (reply.kind === 'checked') {
    checkInFlight = false;
    if (checkWanted) {
      checkWanted = false;
      sendCheck();
      return; // a newer text is on its way: skip drawing this one
    }
    showChecked(reply);
  } else if (reply.kind === 'formatted' && reply.id === formatId) {
    showFormatted(reply);
  }
};

function severityOf(s: PageDiagnostic['severity']): CmDiagnostic['severity'] {
  return s === 'error' ? 'error' : s === 'warning' ? 'warning' : 'info';
}

function showDiagnostics(diagnostics: PageDiagnostic[]): void {
  const docLength = view.state.doc.length;
  const here = diagnostics.filter((d) => d.file === path && d.from !== undefined);
  view.dispatch(
    setDiagnostics(
      view.state,
      here.map((d) => {
        const from = Math.min(d.from!, docLength);
        const to = Math.min(Math.max(d.to ?? from, from), docLength);
        return {
          from,
          to,
          severity: severityOf(d.severity),
          source: d.code,
          message: d.message + (d.expected ? `\nexpected ${d.expected}` : '') + (d.hint ? `\nhint: ${d.hint}` : ''),
        };
      }),
    ),
  );
  const list = $('diagnostics');
  list.replaceChildren(
    ...diagnostics.map((d) => {
      const where = d.line !== undefined ? `${d.file}:${d.line}:${d.col}` : (d.file ?? '');
      const item = el(
        'li',
        { className: d.severity },
        el('span', { className: 'where' }, where),
        ' ',
        el('span', { className: 'code' }, `${d.severity} ${d.code}`),
        ': ',
        d.message,
        ...(d.expected ? [el('span', { className: 'expected' }, ` (expected ${d.expected})`)] : []),
        ...(d.hint ? [el('div', { className: 'hint' }, `hint: ${d.hint}`)] : []),
      );
      item.dataset.code = d.code;
      if (d.line !== undefined) item.dataset.line = String(d.line);
      if (d.file) item.dataset.file = d.file;
      return item;
    }),
  );
  list.dataset.count = String(diagnostics.length);
}

function showChecked(reply: Extract<Reply, { kind: 'checked' }>): void {
  showDiagnostics(reply.diagnostics);
  const errors = reply.diagnostics.filter((d) => d.severity === 'error').length;
  fillVariants(reply.models, reply.chosen);
  $('status').textContent =
    (errors ? `${errors} error(s): the report shows the last model that checked. ` : '') +
    (reply.problem ? `problem: ${reply.problem}` : '') +
    `checked in ${reply.ms.toFixed(0)} ms`;
  if (reply.explained) showExplained(reply.explained);
  showComparison(reply.explained?.summary, reply.compared?.summary);
}

function fillVariants(names: string[], chosen: string | undefined): void {
  if (names.length === 0) return; // a file with errors keeps the last good list
  const pick = $('variant') as HTMLSelectElement;
  const other = $('compare') as HTMLSelectElement;
  pick.replaceChildren(...names.map((n) => el('option', { value: n, textContent: n, selected: n === chosen })));
  other.replaceChildren(
    el('option', { value: '', textContent: '(none)' }),
    ...names.map((n) => el('option', { value: n, textContent: n, selected: n === compare })),
  );
}

// ---- The report: cost table, patterns, receptive field, principles.
function table(header: string[], rows: string[][], numeric: boolean[] = []): HTMLTableElement {
  return el(
    'table',
    {},
    el('thead', {}, el('tr', {}, ...header.map((h, i) => el('th', { className: numeric[i] ? 'num' : '' }, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c, i) => el('td', { className: numeric[i] ? 'num' : '' }, c))))),
  );
}

function showExplained(x: Explained): void {
  const cost = table(
    ['part', 'output', 'params', 'MACs', 'activations', 'peak live'],
    [...x.parts.map((p) => [p.part, p.output, p.params, p.macs, p.activations, p.peak]), ['total', '', x.total.params, x.total.macs, x.total.activations, x.total.peak]],
    [false, false, true, true, true, true],
  );
  cost.id = 'cost-table';
  $('cost').replaceChildren(
    el('div', { className: 'model-name' }, x.summary.model),
    cost,
    el('p', {}, `backbone parameters ${formatCount(x.summary.backboneParams)}; WebGPU plan: ${x.summary.kernels} kernels, ${x.summary.dispatches} dispatches, ${formatBytes(x.summary.plannedDeviceBytes)} planned device memory`),
    el('p', { className: 'shifts' }, ...x.summary.shifts.flatMap((s) => [s, el('br')])),
  );
  const pictures = $('patterns');
  if (x.patterns.length === 0) pictures.replaceChildren(el('p', {}, 'No patch shift in this model: no pattern to draw.'));
  else
    pictures.replaceChildren(
      ...x.patterns.map((p) => {
        const figure = el('figure', { className: 'pattern' });
        figure.innerHTML = p.svg; // our own SVG (patternToSvg escapes every text it writes)
        figure.append(el('figcaption', {}, p.title));
        figure.dataset.grid = p.grid;
        return figure;
      }),
    );
  $('rf').replaceChildren(
    table(
      ['stage', 'tokens', 'one block', 'accumulated', 'reachable'],
      x.receptiveField.map((r) => [String(r.stage), String(r.tokens), r.block, r.accumulated, r.reachable]),
      [true, true, false, false, true],
    ),
  );
  $('principles').replaceChildren(
    ...(x.principles.length ? x.principles.map((n) => el('li', { className: n.severity }, `${n.severity}: stage ${n.stage}: ${n.text}`)) : [el('li', {}, 'No shifts: nothing to check.')]),
  );
  $('explain-text').textContent = x.text;
}

function showComparison(a: Summary | undefined, b: Summary | undefined): void {
  const box = $('comparison');
  if (!a || !b) {
    box.replaceChildren(el('p', {}, 'Pick a second model or sweep variant of this file under "compare with".'));
    return;
  }
  const ratio = (x: number, y: number) => (x === 0 ? '' : `×${(y / x).toFixed(2)}`);
  const rows: [string, number, number, (n: number) => string][] = [
    ['parameters', a.params, b.params, formatCount],
    ['backbone parameters', a.backboneParams, b.backboneParams, formatCount],
    ['MACs', a.macs, b.macs, formatMacs],
    ['activations', a.activationBytes, b.activationBytes, formatBytes],
    ['peak live', a.peakBytes, b.peakBytes, formatBytes],
    ['planned device memory', a.plannedDeviceBytes, b.plannedDeviceBytes, formatBytes],
    ['kernels', a.kernels, b.kernels, String],
    ['dispatches', a.dispatches, b.dispatches, String],
  ];
  box.replaceChildren(
    table(
      ['', a.model, b.model, 'ratio'],
      [...rows.map(([name, x, y, f]) => [name, f(x), f(y), ratio(x, y)]), ['reachable frames (last stage)', a.reachable, b.reachable, ''], ['shifts', a.shifts.join('; '), b.shifts.join('; '), '']],
      [false, true, true, true],
    ),
  );
}

// ---- fmt on a key (Shift-Alt-F) or the button.
function requestFormat(): void {
  formatId = nextId++;
  const req: Request = { kind: 'format', id: formatId, path, text: currentText() };
  checker.postMessage(req);
}

function showFormatted(reply: Extract<Reply, { kind: 'formatted' }>): void {
  if (reply.text === undefined) {
    showDiagnostics(reply.diagnostics);
    $('status').textContent = 'not formatted: the file has syntax errors';
    return;
  }
  if (reply.text !== currentText()) view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: reply.text } });
  $('status').textContent = 'formatted';
}

/** The model on the page as the runner worker takes it (run and export alike): file, texts, variant, weights seed. */
function chosenModel(): { path: string; files: Record<string, string>; model: string | undefined; weightsSeed: number } {
  return {
    path,
    files: { ...edited },
    model: ($('variant') as HTMLSelectElement).value || undefined,
    weightsSeed: Number(($('weights-seed') as HTMLInputElement).value) || 0,
  };
}

// ---- Run on WebGPU.
let droppedClip: { npy: Uint8Array; name: string } | undefined;

function requestRun(): void {
  runId = nextId++;
  const clipSeed = Number(($('clip-seed') as HTMLInputElement).value) || 0;
  const req: Request = { kind: 'run', id: runId, ...chosenModel(), clip: droppedClip ?? { seed: clipSeed } };
  ($('run') as HTMLButtonElement).disabled = true;
  $('run-result').dataset.state = 'running';
  $('run-result').replaceChildren(el('p', {}, 'compiling and running on WebGPU…'));
  runner.postMessage(req);
}

// ---- download .onnx: the worker exports the chosen model (the run's seeded weights); the page saves the bytes.
function requestExport(): void {
  exportId = nextId++;
  const req: Request = { kind: 'export', id: exportId, ...chosenModel() };
  const button = $('download-onnx') as HTMLButtonElement;
  button.disabled = true;
  button.dataset.state = 'exporting';
  $('status').textContent = 'exporting to ONNX…';
  runner.postMessage(req);
}

function showExported(reply: Extract<Reply, { kind: 'exported' }>): void {
  const button = $('download-onnx') as HTMLButtonElement;
  button.disabled = false;
  if (reply.onnx === undefined) {
    button.dataset.state = 'failed';
    if (reply.diagnostics?.length) showDiagnostics(reply.diagnostics);
    $('status').textContent = `problem: ${reply.problem ?? 'the export gave no file'}`;
    return;
  }
  // A file name from the model's name (a sweep variant's brackets, commas and = made safe).
  const name = `${reply.model!.replace(/[^\w.-]+/g, '_')}.onnx`;
  const url = URL.createObjectURL(new Blob([reply.onnx as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  el('a', { href: url, download: name }).click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  button.dataset.state = 'done';
  button.dataset.file = name;
  const outputs = reply.outputs!.map((o) => `${o.name} ${o.shape.join('×')}`).join(', ');
  $('status').textContent = `exported ${name}: clip ${reply.inputShape!.join('×')} → ${outputs}, ${formatBytes(reply.onnx.byteLength)} (weights seed ${($('weights-seed') as HTMLInputElement).value})`;
}

runner.onmessage = (event: MessageEvent<Reply>) => {
  const reply = event.data;
  if (reply.kind === 'exported') {
    if (reply.id === exportId) showExported(reply);
    return;
  }
  if (reply.kind === 'progress' && reply.id === runId) {
    $('run-result').replaceChildren(el('p', {}, reply.text));
    return;
  }
  if (reply.kind !== 'ran' || reply.id !== runId) return;
  ($('run') as HTMLButtonElement).disabled = false;
  const box = $('run-result');
  if (reply.problem !== undefined) {
    if (reply.noWebGpu) showNoWebGpu(reply.problem);
    box.dataset.state = 'failed';
    box.replaceChildren(el('p', { className: 'error' }, reply.problem));
    return;
  }
  const logits = reply.logits!;
  const classes = reply.logitsShape![1]!;
  const top = [...logits.slice(0, classes).entries()].sort((p, q) => q[1] - p[1]).slice(0, 5);
  box.dataset.state = 'done';
  box.dataset.logits = JSON.stringify(logits);
  box.replaceChildren(
    el('p', {}, `${reply.model} on ${reply.adapter}: input ${reply.inputShape!.join('×')}, logits ${reply.logitsShape!.join('×')}`),
    el('p', { id: 'timing' }, `compile ${reply.compileMs!.toFixed(0)} ms, forward ${reply.forwardMs!.toFixed(1)} ms`),
    table(['class', 'logit (clip 0)'], top.map(([i, v]) => [String(i), v.toFixed(5)]), [true, true]),
    el('details', {}, el('summary', {}, 'all logits'), el('pre', { id: 'logits' }, logits.map((v) => v.toPrecision(8)).join(' '))),
  );
  $('kernels').replaceChildren(
    el('p', {}, `${reply.kernels!.length} kernels (the WGSL the CLI's \`pstc compile\` emits for this adapter's limits)`),
    ...reply.kernels!.map((k) => el('details', { className: 'kernel' }, el('summary', {}, `${k.label}  —  ${k.fuses.join(', ')}`), el('pre', {}, k.wgsl))),
  );
};

function showNoWebGpu(why: string): void {
  const note = $('webgpu');
  note.className = 'warning';
  note.textContent = `No WebGPU: ${why}. Editing, checking, explain and the pictures work; Run needs a browser with WebGPU.`;
  ($('run') as HTMLButtonElement).disabled = true;
}

async function probeWebGpu(): Promise<void> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return showNoWebGpu('this browser has no navigator.gpu (WebGPU is off, or the page is not a secure context)');
  const compatibility = { featureLevel: 'compatibility' } as GPURequestAdapterOptions;
  const first = await gpu.requestAdapter().catch(() => null);
  const other = first && !first.info.isFallbackAdapter ? null : await gpu.requestAdapter(compatibility).catch(() => null);
  const adapter = other && !other.info.isFallbackAdapter ? other : (first ?? other);
  if (!adapter) return showNoWebGpu('the browser offers no WebGPU adapter');
  const i = adapter.info;
  const name = [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ') || 'an unnamed adapter';
  $('webgpu').textContent = `WebGPU adapter: ${name}${i.isFallbackAdapter ? ' (a software fallback: runs are slow)' : ''}`;
}

// ---- Clips dropped or picked (.npy N×C×T×H×W).
async function takeClip(file: File): Promise<void> {
  droppedClip = { npy: new Uint8Array(await file.arrayBuffer()), name: file.name };
  $('clip-name').textContent = `clip: ${file.name} (${file.size} bytes)`;
  ($('clip-seed') as HTMLInputElement).disabled = true;
}
$('clip-file').addEventListener('change', () => {
  const f = ($('clip-file') as HTMLInputElement).files?.[0];
  if (f) void takeClip(f);
});
$('clip-clear').addEventListener('click', () => {
  droppedClip = undefined;
  $('clip-name').textContent = 'clip: random';
  ($('clip-seed') as HTMLInputElement).disabled = false;
  ($('clip-file') as HTMLInputElement).value = '';
});
const drop = $('run-panel');
drop.addEventListener('dragover', (e) => e.preventDefault());
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  const f = e.dataTransfer?.files[0];
  if (f) void takeClip(f);
});

// ---- Menu, pickers, download, share.
const fileMenu = $('file') as HTMLSelectElement;
const bundled = Object.keys(models).sort((a, b) => Number(b.includes('/tiny/')) - Number(a.includes('/tiny/')) || a.localeCompare(b));
fileMenu.replaceChildren(...bundled.map((f) => el('option', { value: f, textContent: f.replace(/^models\//, '') })));
fileMenu.addEventListener('change', () => showFile(fileMenu.value, edited[fileMenu.value] ?? models[fileMenu.value] ?? ''));
$('variant').addEventListener('change', () => {
  variant = ($('variant') as HTMLSelectElement).value || undefined;
  scheduleCheck(0);
});
$('compare').addEventListener('change', () => {
  compare = ($('compare') as HTMLSelectElement).value || undefined;
  scheduleCheck(0);
});
$('fmt').addEventListener('click', requestFormat);
$('run').addEventListener('click', requestRun);
$('download').addEventListener('click', () => {
  const url = URL.createObjectURL(new Blob([currentText()], { type: 'text/plain' }));
  const a = el('a', { href: url, download: path.split('/').pop() ?? 'model.pst' });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
});
$('download-onnx').addEventListener('click', requestExport);
$('share').addEventListener('click', () => {
  const hash = encodeShare(path, currentText());
  history.replaceState(null, '', `#${hash}`);
  const link = location.href;
  ($('share-link') as HTMLInputElement).value = link;
  void navigator.clipboard?.writeText(link).catch(() => undefined);
});

// ---- Start: a shared model from the URL, else the default one.
const shared = decodeShare(location.hash.slice(1));
if (shared && !models[shared.path]) {
  // A shared file that is not one of ours still gets imports resolved next to models/.
  fileMenu.append(el('option', { value: shared.path, textContent: shared.path }));
}
showFile(shared?.path ?? DEFAULT_FILE, shared?.text ?? models[DEFAULT_FILE] ?? '');
void probeWebGpu();
if ('serviceWorker' in navigator && location.protocol.startsWith('http')) {
  // Offline once loaded: the service worker keeps the page's few files.
  void navigator.serviceWorker.register('sw.js').catch(() => undefined);
}
// For tests and the curious: the editor, to type into programmatically.
(window as unknown as { pstcEditor: EditorView }).pstcEditor = view;
