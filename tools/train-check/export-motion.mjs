// Writes what tools/train-check/motion.py trains on, from pstc itself (build first: npx tsc):
//   node tools/train-check/export-motion.mjs MODEL.pst DATA_SPEC OUT_DIR [SEED] [MODEL_OR_VARIANT]
// (MODEL_OR_VARIANT as `pstc train -m`: a model of the file or a sweep variant such as demo.tps)
// OUT_DIR/config.json   the elaborated model (ModelConfig, as tools/golden/pst_torch.py takes it)
// OUT_DIR/init.safetensors  initWeights(model, SEED) at the train section's init choices (init_std, bias_init_std, head_init_std): the start
//   `pstc train MODEL.pst --seed SEED` uses
// OUT_DIR/{train,val}_{x,y}.npy  the data spec's splits, as `pstc train --data` reads them
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../dist/src/lang/elaborate.js';
import { readFromDisk } from '../../dist/src/lang/read-disk.js';
import { openData, dataInputOf, writeNpyDataset } from '../../dist/src/data/index.js';
import { initChoicesOf, initWeights, writeSafetensors } from '../../dist/src/weights/index.js';

const [modelPath, spec, out, seedText, modelName] = process.argv.slice(2);
if (!modelPath || !spec || !out) {
  console.error('usage: node tools/train-check/export-motion.mjs MODEL.pst DATA_SPEC OUT_DIR [SEED] [MODEL_OR_VARIANT]');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const { model } = loadModel(modelPath, modelName, readFromDisk);
writeFileSync(join(out, 'config.json'), JSON.stringify(model, null, 1));
writeFileSync(join(out, 'init.safetensors'), writeSafetensors(initWeights(model, Number(seedText ?? 0), initChoicesOf(model.train))));
const source = await openData(spec, dataInputOf(model));
await writeNpyDataset(source.train, join(out, 'train_x.npy'), join(out, 'train_y.npy'));
if (source.val) await writeNpyDataset(source.val, join(out, 'val_x.npy'), join(out, 'val_y.npy'));
console.log(`${out}: ${model.name}, train ${source.train.size}, val ${source.val?.size ?? 0}, clip ${source.train.clipShape.join('×')}`);
