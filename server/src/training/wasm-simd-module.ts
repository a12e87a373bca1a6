import wabt from 'wabt';

/**
 * The project's own WebAssembly SIMD module for TF.js's wasm backend, working in place on the
 * backend's memory: the tile transforms of Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray,
 * "Fast Algorithms for Convolutional Neural Networks", 2016), used by `wasm-winograd-conv.ts`, and
 * a matrix product, used there and by `wasm-matmul-kernel.ts`. A 3x3 stride-1 convolution becomes,
 * per 2x2 output tile,
 *
 *   Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A,
 *
 * with d the 4x4 input tile around it: 16 products per tile instead of 36, and the sum over input
 * channels of each of the 16 is one matrix product. The transforms are only additions, four
 * channels at a time; the filter's G g G^T is small and done in TypeScript. Tensors are NHWC with
 * a channel count that is a multiple of 4, and the 16 planes of a transform lie one after another
 * in one buffer, each [tiles, c]:
 *
 * - `inputTiles`: padded input [n, 2th + 2, 2tw + 2, c] to the planes V_pq = (B^T d B)_pq;
 * - `outputTiles`: the products' planes M_pq to the output [n, 2th, 2tw, c] = A^T M A;
 * - `gradientTiles`: an output gradient [n, 2th, 2tw, c] to the planes A dY A^T, the gradient
 *   with respect to M, which the filter gradient sums against V;
 * - `gemm`: C [m, n] (+)= sum over k of A(i, k) B(k, j), A addressed by two strides (so A or its
 *   transpose), B row-major [k, n], n a multiple of 8. Its 4x8 block of accumulators
 *   stays in registers while k runs, in chunks that keep both operands' rows in cache. On a
 *   student's shapes it runs about three times as fast as the XNNPACK matrix product the wasm
 *   backend ships, which also repacks a new right operand on every call and takes a slow scalar
 *   loop for a transposed left one.
 *
 * Tiles run over images, then tile rows, then tile columns.
 */

/** B^T: row p of the input transform, over the tile's 4 rows (and, transposed, its 4 columns). */
export const INPUT_TRANSFORM = [
  [1, 0, -1, 0],
  [0, 1, 1, 0],
  [0, -1, 1, 0],
  [0, 1, 0, -1],
];
/** A^T: the 2 output rows from the 4 product rows. */
export const OUTPUT_TRANSFORM = [
  [1, 1, 1, 0],
  [0, 1, -1, -1],
];
/** G: the filter transform, 4 rows from the filter's 3. */
export const FILTER_TRANSFORM = [
  [1, 0, 0],
  [0.5, 0.5, 0.5],
  [0.5, -0.5, 0.5],
  [0, 0, 1],
];

/** Sum of coefficient * vector over the named v128 locals (coefficients 1, -1 or 0). */
function combine(coefficients: number[], names: string[]): string {
  let expr: string | null = null;
  coefficients.forEach((k, i) => {
    if (k === 0) return;
    const v = `(local.get ${names[i]})`;
    if (expr === null) expr = k > 0 ? v : `(f32x4.neg ${v})`;
    else expr = `(${k > 0 ? 'f32x4.add' : 'f32x4.sub'} ${expr} ${v})`;
  });
  return expr ?? '(v128.const i32x4 0 0 0 0)';
}

/** The 2-D transform M x M^T of a k x k grid of v128 locals `${from}${row}_${col}` into `${to}…`. */
function transform2d(matrix: number[][], from: string, to: string, k: number): string {
  const out: string[] = [];
  const rows = matrix.length;
  // Rows first: h_pb = sum_a M[p][a] from_ab; then columns: to_pq = sum_b M[q][b] h_pb.
  for (let p = 0; p < rows; p++)
    for (let b = 0; b < k; b++)
      out.push(
        `(local.set $h${p}_${b} ${combine(
          matrix[p] as number[],
          Array.from({ length: k }, (_, a) => `$${from}${a}_${b}`),
        )})`,
      );
  for (let p = 0; p < rows; p++)
    for (let q = 0; q < rows; q++)
      out.push(
        `(local.set $${to}${p}_${q} ${combine(
          matrix[q] as number[],
          Array.from({ length: k }, (_, b) => `$h${p}_${b}`),
        )})`,
      );
  return out.join('\n');
}

const grid = (prefix: string, k: number) =>
  Array.from({ length: k * k }, (_, i) => `${prefix}${Math.floor(i / k)}_${i % k}`);
const locals = (names: string[], type: string) => names.map((n) => `(local $${n} ${type})`).join(' ');

/**
 * One function over every tile of the map at $map (the padded input, or the output): `tileSetup`
 * computes the tile's addresses from $row (the row of its top-left corner in that map), $col and
 * $t; `body` runs per 4 channels at byte offset $off. The 16 planes start at $planes.
 */
function tileLoop(name: string, extraLocals: string, tileSetup: string, body: string): string {
  return `
  (func (export "${name}") (param $map i32) (param $n i32) (param $th i32) (param $tw i32) (param $c i32) (param $planes i32)
    (local $cs i32) (local $planeBytes i32) (local $R i32) (local $j i32) (local $t i32) (local $off i32)
    (local $row i32) (local $col i32) (local $img i32)
    ${extraLocals}
    (local.set $cs (i32.mul (local.get $c) (i32.const 4)))
    (local.set $planeBytes (i32.mul (i32.mul (local.get $n) (i32.mul (local.get $th) (local.get $tw))) (local.get $cs)))
    (local.set $R (i32.const 0))
    (block $rowsDone (loop $rows
      (br_if $rowsDone (i32.ge_u (local.get $R) (i32.mul (local.get $n) (local.get $th))))
      (local.set $img (i32.div_u (local.get $R) (local.get $th)))
      (local.set $j (i32.const 0))
      (block $colsDone (loop $cols
        (br_if $colsDone (i32.ge_u (local.get $j) (local.get $tw)))
        (local.set $t (i32.add (i32.mul (local.get $R) (local.get $tw)) (local.get $j)))
        (local.set $col (i32.mul (local.get $j) (i32.const 2)))
        ${tileSetup}
        (local.set $off (i32.const 0))
        (block $chDone (loop $ch
          (br_if $chDone (i32.ge_u (local.get $off) (local.get $cs)))
          ${body}
          (local.set $off (i32.add (local.get $off) (i32.const 16)))
          (br $ch)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $cols)))
      (local.set $R (i32.add (local.get $R) (i32.const 1)))
      (br $rows)))
  )`;
}

/** Addresses `${prefix}a_b` of a k x k tile at ($row, $col) in a map `width` pixels wide. */
function tileAddresses(prefix: string, k: number, width: string): string {
  const out: string[] = [];
  for (let a = 0; a < k; a++)
    for (let b = 0; b < k; b++)
      out.push(
        `(local.set $${prefix}${a}_${b} (i32.add (local.get $map) (i32.mul (local.get $cs)
           (i32.add (i32.mul (i32.add (local.get $row) (i32.const ${a})) ${width})
                    (i32.add (local.get $col) (i32.const ${b}))))))`,
      );
  return out.join('\n');
}

const loads = (vectors: string, addresses: string, k: number) =>
  grid('', k)
    .map((ab) => `(local.set $${vectors}${ab} (v128.load (i32.add (local.get $${addresses}${ab}) (local.get $off))))`)
    .join('\n');

/** Stores the 16 planes' vectors `$v…` for tile $t into planes [tiles, c]. */
const planeStores = () =>
  grid('', 4)
    .map((pq, i) => `(v128.store (i32.add (local.get $p${i}) (local.get $off)) (local.get $v${pq}))`)
    .join('\n');

/** Each plane's address for tile $t: planes + i * tiles * c * 4 + t * c * 4. */
const planePointers = () =>
  Array.from(
    { length: 16 },
    (_, i) =>
      `(local.set $p${i} (i32.add (i32.add (local.get $planes) (i32.mul (local.get $planeBytes) (i32.const ${i}))) (i32.mul (local.get $t) (local.get $cs))))`,
  ).join('\n');

function moduleText(): string {
  const ptrs = locals(
    Array.from({ length: 16 }, (_, i) => `p${i}`),
    'i32',
  );
  const hidden = locals(grid('h', 4), 'v128');
  // Padded input: image img's tile row R starts at padded row img * (2th + 2) + 2 (R - img * th).
  const paddedRow = `(local.set $row (i32.add (i32.mul (local.get $img) (i32.const 2)) (i32.mul (local.get $R) (i32.const 2))))`;
  const paddedWidth = `(i32.add (i32.mul (local.get $tw) (i32.const 2)) (i32.const 2))`;
  const inputFn = tileLoop(
    'input_tiles',
    [locals(grid('a', 4), 'i32'), locals(grid('d', 4), 'v128'), locals(grid('v', 4), 'v128'), hidden, ptrs].join(' '),
    [paddedRow, tileAddresses('a', 4, paddedWidth), planePointers()].join('\n'),
    [loads('d', 'a', 4), transform2d(INPUT_TRANSFORM, 'd', 'v', 4), planeStores()].join('\n'),
  );
  // The output, 2th x 2tw: tile row R starts at row 2R.
  const plainRow = `(local.set $row (i32.mul (local.get $R) (i32.const 2)))`;
  const plainWidth = `(i32.mul (local.get $tw) (i32.const 2))`;
  const outputFn = tileLoop(
    'output_tiles',
    [locals(grid('a', 2), 'i32'), locals(grid('m', 4), 'v128'), locals(grid('y', 2), 'v128'), hidden, ptrs].join(' '),
    [plainRow, tileAddresses('a', 2, plainWidth), planePointers()].join('\n'),
    [
      grid('', 4)
        .map((pq, i) => `(local.set $m${pq} (v128.load (i32.add (local.get $p${i}) (local.get $off))))`)
        .join('\n'),
      transform2d(OUTPUT_TRANSFORM, 'm', 'y', 4),
      grid('', 2)
        .map((ij) => `(v128.store (i32.add (local.get $a${ij}) (local.get $off)) (local.get $y${ij}))`)
        .join('\n'),
    ].join('\n'),
  );
  // The output transform's adjoint: A dY A^T, A = (A^T)^T.
  const adjoint = (OUTPUT_TRANSFORM[0] as number[]).map((_, i) => OUTPUT_TRANSFORM.map((row) => row[i] as number));
  const gradientFn = tileLoop(
    'gradient_tiles',
    [locals(grid('a', 2), 'i32'), locals(grid('g', 2), 'v128'), locals(grid('v', 4), 'v128'), hidden, ptrs].join(' '),
    [plainRow, tileAddresses('a', 2, plainWidth), planePointers()].join('\n'),
    [loads('g', 'a', 2), transform2d(adjoint, 'g', 'v', 2), planeStores()].join('\n'),
  );
  return `(module
  (import "env" "memory" (memory 0))
  ${inputFn}
  ${outputFn}
  ${gradientFn}
  ${GEMM}
)`;
}

type TileFn = (map: number, n: number, th: number, tw: number, c: number, planes: number) => void;
export interface SimdKernels {
  inputTiles: TileFn;
  outputTiles: TileFn;
  gradientTiles: TileFn;
  /** Byte addresses and strides; `accumulate` 1 adds to C, 0 overwrites it. */
  gemm(
    a: number,
    aRowStride: number,
    aDepthStride: number,
    b: number,
    bDepthStride: number,
    c: number,
    m: number,
    n: number,
    k: number,
    accumulate: 0 | 1,
  ): void;
}

/** Rows of C per block (each row's 8 columns are two vectors); k's chunk. */
const GEMM_ROWS = 4;
const GEMM_CHUNK = 64;

/** C's block at $pc: row r, vector half h is local $c{r}{h}; its address is $pc + r * $cs + 16 h. */
const blockAddress = (r: number) =>
  r === 0 ? '(local.get $pc)' : `(i32.add (local.get $pc) (i32.mul (local.get $cs) (i32.const ${r})))`;
const rows = Array.from({ length: GEMM_ROWS }, (_, r) => r);
const halves = [0, 1];
const zero = '(v128.const i32x4 0 0 0 0)';
/** `code` for row r of the block only where that row is below M (row 0 always is). */
const liveRow = (r: number, code: string) =>
  r === 0 ? code : `(if (i32.lt_u (i32.const ${r}) (local.get $live)) (then ${code}))`;

const GEMM = `
  (func (export "gemm") (param $a i32) (param $sai i32) (param $sak i32) (param $b i32) (param $sbk i32)
      (param $c i32) (param $M i32) (param $N i32) (param $K i32) (param $accumulate i32)
    (local $k0 i32) (local $kn i32) (local $live i32) (local $i i32) (local $j i32) (local $k i32) (local $pb i32) (local $pc i32) (local $cs i32)
    ${locals(
      rows.map((r) => `pa${r}`),
      'i32',
    )}
    ${locals(
      rows.flatMap((r) => halves.map((h) => `c${r}${h}`)),
      'v128',
    )}
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local.set $cs (i32.mul (local.get $N) (i32.const 4)))
    (local.set $k0 (i32.const 0))
    (block $kDone (loop $kLoop
      (br_if $kDone (i32.ge_u (local.get $k0) (local.get $K)))
      (local.set $kn (i32.sub (local.get $K) (local.get $k0)))
      (if (i32.gt_u (local.get $kn) (i32.const ${GEMM_CHUNK})) (then (local.set $kn (i32.const ${GEMM_CHUNK}))))
      (local.set $i (i32.const 0))
      (block $iDone (loop $iLoop
        (br_if $iDone (i32.ge_u (local.get $i) (local.get $M)))
        (local.set $j (i32.const 0))
        (block $jDone (loop $jLoop
          (br_if $jDone (i32.ge_u (local.get $j) (local.get $N)))
          (local.set $pc (i32.add (local.get $c) (i32.add (i32.mul (local.get $i) (local.get $cs)) (i32.mul (local.get $j) (i32.const 4)))))
          (local.set $live (i32.sub (local.get $M) (local.get $i)))
          ;; The block starts from C when accumulating or past the first chunk, else from zero.
          (if (i32.or (local.get $accumulate) (local.get $k0))
            (then ${rows.map((r) => liveRow(r, halves.map((h) => `(local.set $c${r}${h} (v128.load offset=${16 * h} ${blockAddress(r)}))`).join(' '))).join(' ')})
            (else ${rows.flatMap((r) => halves.map((h) => `(local.set $c${r}${h} ${zero})`)).join(' ')}))
          (local.set $pa0 (i32.add (local.get $a) (i32.add (i32.mul (local.get $i) (local.get $sai)) (i32.mul (local.get $k0) (local.get $sak)))))
          ;; Rows past M (a last, partial block) read row M - 1 again and store nothing.
          ${rows
            .slice(1)
            .map(
              (r) =>
                `(local.set $pa${r} (i32.add (local.get $pa${r - 1}) (select (local.get $sai) (i32.const 0) (i32.lt_u (i32.const ${r}) (local.get $live)))))`,
            )
            .join(' ')}
          (local.set $pb (i32.add (local.get $b) (i32.add (i32.mul (local.get $k0) (local.get $sbk)) (i32.mul (local.get $j) (i32.const 4)))))
          (local.set $k (local.get $kn))
          (loop $kk
            (local.set $b0 (v128.load (local.get $pb)))
            (local.set $b1 (v128.load offset=16 (local.get $pb)))
            ${rows
              .map(
                (r) => `(local.set $x (v128.load32_splat (local.get $pa${r})))
            ${halves.map((h) => `(local.set $c${r}${h} (f32x4.add (local.get $c${r}${h}) (f32x4.mul (local.get $x) (local.get $b${h}))))`).join(' ')}`,
              )
              .join('\n            ')}
            ${rows.map((r) => `(local.set $pa${r} (i32.add (local.get $pa${r}) (local.get $sak)))`).join(' ')}
            (local.set $pb (i32.add (local.get $pb) (local.get $sbk)))
            (local.set $k (i32.sub (local.get $k) (i32.const 1)))
            (br_if $kk (local.get $k)))
          ${rows.map((r) => liveRow(r, halves.map((h) => `(v128.store offset=${16 * h} ${blockAddress(r)} (local.get $c${r}${h}))`).join(' '))).join(' ')}
          (local.set $j (i32.add (local.get $j) (i32.const 8)))
          (br $jLoop)))
        (local.set $i (i32.add (local.get $i) (i32.const ${GEMM_ROWS})))
        (br $iLoop)))
      (local.set $k0 (i32.add (local.get $k0) (i32.const ${GEMM_CHUNK})))
      (br $kLoop)))
  )`;

const instances = new WeakMap<WebAssembly.Memory, SimdKernels>();
let compiled: WebAssembly.Module | null = null;
let compiling: Promise<void> | null = null;

/** Compiles the module, once per process; until then `simdKernelsFor` gives null. */
export function compileSimdKernels(): Promise<void> {
  compiling ??= (async () => {
    const tools = await wabt();
    const parsed = tools.parseWat('wasm-simd-module.wat', moduleText(), { simd: true });
    try {
      compiled = await WebAssembly.compile(parsed.toBinary({}).buffer as Uint8Array<ArrayBuffer>);
    } finally {
      parsed.destroy();
    }
  })();
  return compiling;
}

/** The module's functions over a wasm backend's heap, or null before `compileSimdKernels` has finished. */
export function simdKernelsFor(backend: unknown): SimdKernels | null {
  if (!compiled) return null;
  const memory = (backend as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory;
  let simd = instances.get(memory);
  if (!simd) {
    const exports = new WebAssembly.Instance(compiled, { env: { memory } }).exports;
    simd = {
      inputTiles: exports.input_tiles as TileFn,
      outputTiles: exports.output_tiles as TileFn,
      gradientTiles: exports.gradient_tiles as TileFn,
      gemm: exports.gemm as SimdKernels['gemm'],
    };
    instances.set(memory, simd);
  }
  return simd;
}
