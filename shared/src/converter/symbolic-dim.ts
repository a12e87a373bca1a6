import { ConversionError } from './conversion-error.ts';

/**
 * A dimension: a static size, or a multiple of the batch size B (the one dynamic dimension a
 * prior has). Shape arithmetic in exported graphs (attention reshapes to B*heads, sequence*B)
 * stays exact this way, and every such dimension becomes -1 or a runtime value in TF.js.
 */
export type Dim = number | { b: number };

export const BATCH: Dim = { b: 1 };

export const isStatic = (d: Dim): d is number => typeof d === 'number';

export function dimsEqual(a: Dim, b: Dim): boolean {
  return isStatic(a) ? a === b : !isStatic(b) && a.b === b.b;
}

export function mulDims(a: Dim, b: Dim, where: string): Dim {
  if (isStatic(a) && isStatic(b)) return a * b;
  if (isStatic(a)) return { b: (b as { b: number }).b * a };
  if (isStatic(b)) return { b: a.b * b };
  throw new ConversionError('dynamic_shape', `${where}: B*B is not a shape this converter can resolve`);
}

export function divDims(a: Dim, b: Dim, where: string): Dim {
  if (isStatic(a) && isStatic(b)) return Math.trunc(a / b);
  if (!isStatic(a) && isStatic(b) && a.b % b === 0) return { b: a.b / b };
  if (!isStatic(a) && !isStatic(b) && a.b % b.b === 0) return a.b / b.b;
  throw new ConversionError('dynamic_shape', `${where}: cannot divide ${show(a)} by ${show(b)} exactly`);
}

export function addDims(a: Dim, b: Dim, where: string): Dim {
  if (isStatic(a) && isStatic(b)) return a + b;
  if (isStatic(b) && b === 0) return a;
  if (isStatic(a) && a === 0) return b;
  if (!isStatic(a) && !isStatic(b)) return a.b + b.b === 0 ? 0 : { b: a.b + b.b };
  throw new ConversionError('dynamic_shape', `${where}: ${show(a)} + ${show(b)} depends on the batch size`);
}

export function productOf(dims: Dim[], where: string): Dim {
  return dims.reduce<Dim>((acc, d) => mulDims(acc, d, where), 1);
}

export function show(d: Dim): string {
  return isStatic(d) ? String(d) : d.b === 1 ? 'B' : `${d.b}B`;
}

export const showShape = (dims: Dim[]) => `[${dims.map(show).join(', ')}]`;

/** Static dims as TF.js sizes: the (single) batch-dependent one becomes -1. */
export function toTfShape(dims: Dim[], where: string): number[] {
  const dynamic = dims.filter((d) => !isStatic(d)).length;
  if (dynamic > 1)
    throw new ConversionError(
      'dynamic_shape',
      `${where}: shape ${showShape(dims)} has more than one batch-dependent size`,
    );
  return dims.map((d) => (isStatic(d) ? d : -1));
}

/** NumPy broadcasting of two shapes whose sizes may be batch multiples. */
export function broadcastDims(a: Dim[], b: Dim[], where: string): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === 1) out.push(y);
    else if (y === 1 || dimsEqual(x, y)) out.push(x);
    else
      throw new ConversionError('malformed', `${where}: shapes ${showShape(a)} and ${showShape(b)} do not broadcast`);
  }
  return out;
}
