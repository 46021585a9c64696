// Same model, two builds (dist dirs): time every kernel interleaved, CPU ms per dispatch (min and median).
const [da, db, file, T, S, rounds] = [process.argv[2], process.argv[3], process.argv[4], +process.argv[5], +process.argv[6], +(process.argv[7] ?? 7)];
const subj = [];
for (const d of [da, db]) {
  const { openDevice } = await import(`${d}/backends/webgpu/device.js`);
  const { compileModel } = await import(`${d}/backends/webgpu/runtime.js`);
  const { timeDispatches } = await import(`${d}/backends/webgpu/profile.js`);
  const { initWeights } = await import(`${d}/src/weights/index.js`);
  const { loadCommandModel } = await import(`${d}/src/cli/model.js`);
  const { randomClip } = await import(`${d}/src/cli/clips.js`);
  const device = await openDevice();
  const { model } = loadCommandModel(file, { set: [] });
  const c = await compileModel(device, model, { batch: 1, frames: T, size: S }, initWeights(model, 1), {});
  await c.forward(randomClip([1, 3, T, S, S], 1));
  subj.push({ device, timeDispatches, ds: c.profiledDispatches() });
}
const n = subj[0].ds.length;
const keep = (i) => !process.env.FILTER || new RegExp(process.env.FILTER).test(subj[1].ds[i].dispatch.label);
const times = Array.from({ length: n }, () => [[], []]);
for (let r = 0; r < rounds; r++) for (let i = 0; i < n; i++) if (keep(i)) for (const [s, X] of subj.entries()) {
  const before = process.cpuUsage();
  await X.timeDispatches(X.device, [X.ds[i].dispatch], 'timestamp-query');
  const u = process.cpuUsage(before);
  times[i][s].push((u.user + u.system) / 1000);
}
const med = (x) => { const y = [...x].sort((p, q) => p - q); return y[y.length >> 1]; };
const tot = [[0, 0], [0, 0]];
for (let i = 0; i < n; i++) {
  if (!keep(i)) continue;
  const [ta, tb] = times[i];
  tot[0][0] += Math.min(...ta); tot[0][1] += Math.min(...tb); tot[1][0] += med(ta); tot[1][1] += med(tb);
  if (process.env.SHOW) console.log(subj[0].ds[i].dispatch.label.padEnd(40), subj[1].ds[i].dispatch.label.padEnd(44), 'min', Math.min(...ta).toFixed(1), Math.min(...tb).toFixed(1), ' med', med(ta).toFixed(1), med(tb).toFixed(1));
}
console.log('sum of mins', tot[0].map((x) => x.toFixed(0)).join(' vs '), (tot[0][1] / tot[0][0]).toFixed(3), ' sum of medians', tot[1].map((x) => x.toFixed(0)).join(' vs '), (tot[1][1] / tot[1][0]).toFixed(3));
for (const X of subj) X.device.destroy();
