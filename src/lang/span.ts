// Source positions. Lines and columns count from 1, as editors show them; offsets from 0.
export interface Span {
  file: string;
  startLine: number;
  startCol: number;
  endLine: number;
  endCol: number;
  startOffset: number;
  /** Exclusive. */
  endOffset: number;
}

export function spanUnion(a: Span, b: Span): Span {
  const first = a.startOffset <= b.startOffset ? a : b;
  const last = a.endOffset >= b.endOffset ? a : b;
  return { ...first, endLine: last.endLine, endCol: last.endCol, endOffset: last.endOffset };
}
