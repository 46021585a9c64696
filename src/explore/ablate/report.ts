// The report of an ablation directory, rebuilt from whatever runs have finished: results.json
// (every record whole, with the plan's summary and the statistics), results.csv (per run),
// variants.csv (per variant), results.md and report.html (the answer in a paragraph, the table,
// the plots, and each variant's shift pattern drawn). All written whole.
import { join } from 'node:path';
import type { ModelConfig } from '../../lang/model.js';
import { writeFileAtomic } from '../../weights/atomic.js';
import { describeShift } from '../config-diff.js';
import { modelPatterns } from '../model-patterns.js';
import { patternToSvg } from '../pattern-picture.js';
import { sweepCharts, type Chart } from './charts.js';
import type { AblationDir } from './layout.js';
import type { RunRecord, SweepPlan } from './record.js';
import { openingParagraph } from './answer.js';
import { budgetLine, legend, resultsCsv, resultsMarkdown, summarize, tableCells, variantsCsv, type Summary, type SummaryOptions, type VariantRow } from './summary.js';

export interface ReportFiles {
  json: string;
  csv: string;
  variantsCsv: string;
  markdown: string;
  html: string;
  rows: VariantRow[];
  records: RunRecord[];
  charts: string[];
}

/** `options.against`: compare with this variant instead of each sweep's base (an unknown name is PST808, before anything is written). */
export async function writeReport(dir: AblationDir, plan: SweepPlan, options: SummaryOptions = {}): Promise<ReportFiles> {
  const records = dir.records(plan);
  const summary = summarize(plan, records, options);
  const { rows } = summary;
  const answer = openingParagraph(plan, summary);
  const files = {
    json: join(dir.root, 'results.json'),
    csv: join(dir.root, 'results.csv'),
    variantsCsv: join(dir.root, 'variants.csv'),
    markdown: join(dir.root, 'results.md'),
    html: join(dir.root, 'report.html'),
  };
  const results = {
    format: 'pstc-ablate-results/1',
    file: plan.file,
    sweeps: plan.sweeps,
    budget: plan.budget,
    seeds: plan.seeds,
    planned: plan.runs.length,
    finished: records.length,
    folded: plan.folded,
    invalid: plan.invalid,
    answer,
    statistics: {
      interval: 'mean over seeds with a 95 % Student-t interval (mean ± t(0.975, n−1) · sd / √n); one seed: none (low/high absent)',
      difference: 'variant minus its reference, paired by seed, 95 % Student-t interval of the paired differences; verdict better/worse when the interval is clear of 0, else "cannot tell"',
      atChance: 'best validation top-1 within the binomial noise of 1/classes: exact one-sided binomial test at 5 %',
      throughput: 'warm work only: forward after untimed warm-up passes, training over the steps after the first with evaluations and checkpoints left out; compile seconds (building plus the first pass or step beyond a warm one) apart',
    },
    references: Object.fromEntries(summary.references),
    variants: rows,
    runs: records,
  };
  writeFileAtomic(files.json, JSON.stringify(results, null, 1));
  writeFileAtomic(files.csv, resultsCsv(records, summary));
  writeFileAtomic(files.variantsCsv, variantsCsv(rows));
  const markdown = resultsMarkdown(plan, summary);
  writeFileAtomic(files.markdown, markdown);
  const charts = await sweepCharts(summary, records);
  writeFileAtomic(files.html, reportHtml(plan, summary, answer, charts));
  return { ...files, rows, records, charts: charts.map((c) => c.name) };
}

/** Each distinct patch shift of a model, drawn over the window it tiles (as `explain --svg` draws it). */
export function patternSvgs(config: ModelConfig): { stage: number; title: string; svg: string }[] {
  return modelPatterns(config).map((p) => ({
    stage: p.stage,
    title: describeShift(p.shift),
    svg: patternToSvg(p.picture, `${p.shift.name}, stage ${p.stage}`),
  }));
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function reportHtml(plan: SweepPlan, summary: Summary, answer: string, charts: readonly Chart[]): string {
  const rows: readonly VariantRow[] = summary.rows;
  const { header, rows: cells } = tableCells(summary);
  const table = [
    '<table>',
    `<thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...cells.map((r, i) => `<tr class="${rows[i]!.failed && !rows[i]!.done ? 'failed' : rows[i]!.atChance?.length ? 'chance' : ''}">${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`),
    '</tbody></table>',
  ].join('\n');
  const failures = rows.filter((v) => v.diagnostic);
  const figures = charts.map((c) => `<figure class="chart" data-chart="${esc(c.name)}"><figcaption>${esc(c.title)}</figcaption>${c.svg}</figure>`);
  const noAccuracy = charts.some((c) => c.name === 'accuracy') ? '' : '<p class="note">No trained runs in this report (a cost-only sweep, or none finished yet): accuracy plots appear once runs are trained.</p>';
  const patterns = variantPatterns(plan);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Ablation: ${esc(plan.sweeps.join(', '))}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
table { border-collapse: collapse; font-size: 13px; margin: 12px 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
tr.failed td { background: #fde0dc; }
tr.chance td { background: #fff4d6; }
figure { display: inline-block; margin: 12px 16px 12px 0; vertical-align: top; }
figcaption { font-size: 13px; font-weight: 600; margin-bottom: 4px; max-width: 560px; }
.patterns { display: flex; flex-wrap: wrap; gap: 16px; }
.pattern { border: 1px solid #ddd; padding: 8px; font-size: 12px; max-width: 360px; }
.note { color: #555; font-style: italic; }
.answer { font-size: 16px; line-height: 1.45; background: #f4f8fc; border-left: 4px solid #08519c; padding: 10px 14px; }
.legend { font-size: 12px; color: #444; }
pre { background: #f8f8f8; padding: 8px; font-size: 12px; white-space: pre-wrap; }
</style></head>
<body>
<h1>Ablation: ${esc(plan.sweeps.join(', '))}</h1>
<p class="answer">${esc(answer)}</p>
<p>${esc(plan.file)} — ${rows.reduce((n, v) => n + v.done, 0)} of ${plan.runs.length} runs finished. ${esc(budgetLine(plan))}</p>
<p class="legend">${esc(legend(plan, summary))}</p>
${table}
${plan.folded.length ? `<p class="note">Equal to another variant after resolution (run once): ${esc(plan.folded.map((f) => `${f.variant} = ${f.runsAs}`).join('; '))}.</p>` : ''}
${failures.length ? `<h2>Failed runs</h2>${failures.map((v) => `<h3>${esc(v.variant)}</h3><pre>${esc(v.diagnostic!)}</pre>`).join('\n')}` : ''}
<h2>Plots</h2>
${noAccuracy}
<div class="charts">
${figures.join('\n')}
</div>
<h2>Shift patterns</h2>
<p class="note">For each variant, the frame each position of a window of frame d reads (the picture <code>pstc explain --svg</code> draws).</p>
<div class="patterns">
${patterns}
</div>
</body></html>
`;
}

function variantPatterns(plan: SweepPlan): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const run of plan.runs) {
    if (seen.has(run.variant)) continue;
    seen.add(run.variant);
    let pictures: ReturnType<typeof patternSvgs>;
    try {
      pictures = patternSvgs(run.config);
    } catch (e) {
      pictures = [];
      out.push(`<div class="pattern" data-variant="${esc(run.variant)}"><b>${esc(run.variant)}</b><p>(could not be lowered: ${esc((e as Error).message)})</p></div>`);
      continue;
    }
    const body = pictures.length
      ? pictures.map((p) => `<figure class="pattern-picture">${p.svg}<figcaption>${esc(p.title)}</figcaption></figure>`).join('')
      : '<p>no patch shift (channel shift or no shift: no mosaic to draw)</p>';
    const shifts = run.config.stages.map((s) => `stage ${s.number}: ${s.blocks.map((b) => (b.shift ? (b.shift.kind === 'patch' ? 'tps' : 'tcs') : 'none')).join(' ')}`).join('; ');
    out.push(`<div class="pattern" data-variant="${esc(run.variant)}"><b>${esc(run.variant)}</b><br><span>${esc(shifts)}</span>${body}</div>`);
  }
  return out.join('\n');
}
