// The training-mode pieces of lowering (lower.ts calls them at the points the spec names):
// stochastic depth on each residual branch, the head's dropout, and the loss. At inference each
// is the identity and none of this runs. A dropout with rate 0 is not emitted at all, so a
// training graph with every rate 0 is the inference graph plus the loss.
import { DiagnosticError } from '../lang/diagnostics.js';
import type { ModelConfig } from '../lang/model.js';
import type { GraphBuilder, NodeId } from '../ir/graph.js';

export interface TrainOptions {
  /** ε of the cross-entropy's label smoothing: target = (1 − ε)·onehot + ε/K. Default 0. */
  labelSmoothing?: number;
}

export class TrainLowering {
  /** Each dropout op of the graph draws from its own stream of the counter-based RNG. */
  private nextStream = 0;
  readonly labelSmoothing: number;

  constructor(
    private readonly g: GraphBuilder,
    model: ModelConfig,
    options: TrainOptions,
  ) {
    this.labelSmoothing = options.labelSmoothing ?? 0;
    checkTrainable(model, this.labelSmoothing);
  }

  /** drop_path(x): a whole sample's branch is dropped with `rate`, the kept ones scaled by 1/(1 − rate). */
  dropPath(x: NodeId, rate: number, label: string): NodeId {
    return this.dropout(x, rate, true, label);
  }

  dropout(x: NodeId, rate: number, perSample: boolean, label: string): NodeId {
    if (rate === 0) return x;
    return this.g.op({ kind: 'dropout', rate, stream: this.nextStream++, perSample }, [x], label);
  }

  /** cross_entropy(logits, labels) → output 'loss'; adds the 'labels' input [B]. */
  loss(logits: NodeId): NodeId {
    const batch = this.g.shape(logits)[0]!;
    const labels = this.g.input('labels', [batch]);
    const loss = this.g.op({ kind: 'cross_entropy', smoothing: this.labelSmoothing }, [logits, labels], 'loss');
    return this.g.op({ kind: 'output', name: 'loss' }, [loss], 'loss');
  }
}

/** What a training graph cannot express yet, said before anything is built. */
function checkTrainable(model: ModelConfig, smoothing: number): void {
  const fail = (message: string, hint: string): never => {
    throw new DiagnosticError([{ code: 'PST311', severity: 'error', message, hint, ...(model.span ? { span: model.span } : {}) }]);
  };
  if (!model.head) fail(`model ${model.name} has no classification head, so there is no loss to train`, 'add a head { classes = … } section');
  if (!(smoothing >= 0 && smoothing < 1)) fail(`label smoothing must lie in [0, 1), got ${smoothing}`, 'use e.g. 0.1');
  const rate = (r: number) => r >= 0 && r < 1;
  if (!rate(model.head!.dropout)) fail(`head dropout must lie in [0, 1), got ${model.head!.dropout}`, 'use e.g. 0.5');
  for (const stage of model.stages) {
    // The spec's block has no dropout besides drop_path; the attention's and MLP's own dropouts
    // (Swin's attn_drop/proj_drop/drop) are not in the training graph, so a rate > 0 is refused
    // rather than silently ignored.
    if (stage.dropout !== 0 || stage.attnDropout !== 0) {
      fail(`stage ${stage.number}: dropout/attn_dropout ${stage.dropout}/${stage.attnDropout} is not supported in training`, 'set dropout = 0 and attn_dropout = 0 (drop_path and the head dropout are supported)');
    }
    for (const b of stage.blocks) if (!rate(b.dropPath)) fail(`stage ${stage.number} block ${b.index}: drop_path ${b.dropPath} outside [0, 1)`, 'use a rate below 1');
  }
}
