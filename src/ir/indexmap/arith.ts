// Integer arithmetic with the semantics index maps use: floor division and the non-negative
// remainder (as in Python), and row-major strides.

// `+ 0` turns a negative zero into 0, so results compare equal with Object.is.
export function floorDiv(a: number, b: number): number {
  return Math.floor(a / b) + 0;
}

export function floorMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

export function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}

export function product(shape: readonly number[]): number {
  return shape.reduce((p, n) => p * n, 1);
}

/** Row-major strides: the flat offset of index x is sum(x[k] * strides[k]). */
export function rowMajorStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    strides[k] = s;
    s *= shape[k]!;
  }
  return strides;
}
