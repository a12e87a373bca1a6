import * as tf from '@tensorflow/tfjs-core';

export interface AlignmentFit {
  /** T_k, l x n */
  weights: tf.Tensor2D;
  /** n */
  bias: tf.Tensor1D;
  iterations: number;
  /** ||(F^T F + lambda I) T - F^T Y||_F / ||F^T Y||_F on the centred data: the solve's own residual. */
  relativeResidual: number;
}

/** Ridge strength relative to the mean feature variance, unless a fit says otherwise. */
export const DEFAULT_RIDGE_LAMBDA = 1e-3;

export interface AlignmentOptions {
  /** Ridge strength relative to the mean feature variance (scale-free). */
  lambda?: number;
  tolerance?: number;
  maxIterations?: number;
}

/**
 * CoOpt step 4, alignment: T_k = argmin ||F_k T + 1 b^T - S_Y*||^2 + lambda ||T||^2, the bias
 * unpenalised. Centring F and Y removes the bias from the solve; the normal equations
 * (Fc^T Fc + lambda I) T = Fc^T Yc are solved for all n columns at once by Jacobi-preconditioned
 * conjugate gradients in float32, then b = mean(Y) - mean(F) T.
 */
export async function fitAlignment(
  features: tf.Tensor2D,
  targets: tf.Tensor2D,
  options: AlignmentOptions = {},
): Promise<AlignmentFit> {
  const [m, l] = features.shape;
  if (targets.shape[0] !== m) throw new Error(`features have ${m} rows but targets have ${targets.shape[0]}`);
  const tolerance = options.tolerance ?? 1e-5;
  const maxIterations = options.maxIterations ?? Math.max(50, 3 * l);
  const lambdaRel = options.lambda ?? DEFAULT_RIDGE_LAMBDA;

  const { a, b, meanF, meanY, diag } = normalEquations(features, targets, lambdaRel);
  const bNorm = (await tf.tidy(() => tf.sqrt(tf.sum(tf.square(b), 0))).data()) as Float32Array;

  let x: tf.Tensor = tf.zerosLike(b);
  let r: tf.Tensor = tf.clone(b);
  let z: tf.Tensor = tf.div(r, diag);
  let p: tf.Tensor = tf.clone(z);
  let rz: tf.Tensor = tf.sum(tf.mul(r, z), 0);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const next = tf.tidy(() => {
      const ap = tf.matMul(a, p);
      const alpha = tf.div(rz, tf.maximum(tf.sum(tf.mul(p, ap), 0), 1e-30));
      const x2 = tf.add(x, tf.mul(p, alpha));
      const r2 = tf.sub(r, tf.mul(ap, alpha));
      const z2 = tf.div(r2, diag);
      const rz2 = tf.sum(tf.mul(r2, z2), 0);
      const p2 = tf.add(z2, tf.mul(p, tf.div(rz2, tf.maximum(rz, 1e-30))));
      return { x2, r2, z2, rz2, p2, rNorm: tf.sqrt(tf.sum(tf.square(r2), 0)) };
    });
    tf.dispose([x, r, z, p, rz]);
    ({ x2: x, r2: r, z2: z, p2: p, rz2: rz } = next);
    const rNorm = (await next.rNorm.data()) as Float32Array;
    next.rNorm.dispose();
    if (worstRatio(rNorm, bNorm) < tolerance) {
      iterations++;
      break;
    }
  }
  tf.dispose([r, z, p, rz]);

  const { bias, residual } = tf.tidy(() => ({
    bias: tf.sub(meanY, tf.squeeze(tf.matMul(tf.reshape(meanF, [1, l]), x))) as tf.Tensor1D,
    residual: tf.div(tf.norm(tf.sub(tf.matMul(a, x), b)), tf.maximum(tf.norm(b), 1e-30)),
  }));
  const relativeResidual = ((await residual.data()) as Float32Array)[0] as number;
  tf.dispose([a, b, meanF, meanY, diag, residual]);
  return { weights: x as tf.Tensor2D, bias, iterations, relativeResidual };
}

/**
 * The centred normal equations of the ridge fit: A = Fc^T Fc + lambda I, B = Fc^T Yc, with
 * lambda relative to the mean feature variance, and the column means that give back the bias.
 */
function normalEquations(features: tf.Tensor2D, targets: tf.Tensor2D, lambdaRel: number) {
  const l = features.shape[1];
  return tf.tidy(() => {
    const meanF = tf.mean(features, 0);
    const meanY = tf.mean(targets, 0);
    const fc = tf.sub(features, meanF);
    const yc = tf.sub(targets, meanY);
    const gram = tf.matMul(fc, fc, true, false);
    const lambda = tf.mul(tf.mean(tf.sum(tf.square(fc), 0)), lambdaRel);
    const a = tf.add(gram, tf.mul(tf.eye(l), lambda)) as tf.Tensor2D;
    return {
      a,
      b: tf.matMul(fc, yc, true, false) as tf.Tensor2D,
      meanF,
      meanY,
      diag: tf.reshape(tf.add(tf.sum(tf.mul(gram, tf.eye(l)), 1), lambda), [l, 1]),
    };
  });
}

/**
 * How far a given map is from the ridge solution on these rows, without solving anything:
 * ||A T - B||_F / ||B||_F for the weights, plus ||b - (mean(Y) - mean(F) T)|| over the targets'
 * root-mean-square spread for the bias (taken as the larger). A few matrix products, so checking a volunteer's fit costs a small
 * fraction of computing it.
 */
export function alignmentResidual(
  features: tf.Tensor2D,
  targets: tf.Tensor2D,
  fit: Pick<AlignmentFit, 'weights' | 'bias'>,
  lambda = DEFAULT_RIDGE_LAMBDA,
): tf.Scalar {
  const l = features.shape[1];
  const eq = normalEquations(features, targets, lambda);
  return tf.tidy(() => {
    const weights = tf.div(tf.norm(tf.sub(tf.matMul(eq.a, fit.weights), eq.b)), tf.maximum(tf.norm(eq.b), 1e-30));
    const expectedBias = tf.sub(eq.meanY, tf.squeeze(tf.matMul(tf.reshape(eq.meanF, [1, l]), fit.weights)));
    // The bias error is measured against the targets' spread, which never vanishes the way a mean can.
    const spread = tf.sqrt(tf.div(tf.sum(tf.square(tf.sub(targets, eq.meanY))), features.shape[0]));
    const bias = tf.div(tf.norm(tf.sub(fit.bias, expectedBias)), tf.maximum(spread, 1e-30));
    const out = tf.maximum(weights, bias) as tf.Scalar;
    tf.dispose([eq.a, eq.b, eq.meanF, eq.meanY, eq.diag]);
    return out;
  });
}

function worstRatio(r: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < r.length; i++) worst = Math.max(worst, (r[i] as number) / Math.max(b[i] as number, 1e-30));
  return worst;
}

/** y = F T + b */
export function applyAlignment(features: tf.Tensor2D, fit: Pick<AlignmentFit, 'weights' | 'bias'>): tf.Tensor2D {
  return tf.tidy(() => tf.add(tf.matMul(features, fit.weights), fit.bias) as tf.Tensor2D);
}

/**
 * The alignment's fit on held-out shared-set rows: R^2 = 1 - SS_res / SS_tot over all target
 * dimensions, SS_tot about the held-out targets' own mean.
 */
export function heldOutR2(
  features: tf.Tensor2D,
  targets: tf.Tensor2D,
  fit: Pick<AlignmentFit, 'weights' | 'bias'>,
): tf.Scalar {
  return tf.tidy(() => {
    const pred = applyAlignment(features, fit);
    const ssRes = tf.sum(tf.square(tf.sub(targets, pred)));
    const ssTot = tf.sum(tf.square(tf.sub(targets, tf.mean(targets, 0))));
    return tf.sub(1, tf.div(ssRes, tf.maximum(ssTot, 1e-30))) as tf.Scalar;
  });
}
