import type { WorkAssignment } from '@coopt/shared';
import type { GraphModelJson } from '@coopt/shared/converter';
import { decodeTargets, encodeTargets, solveAlignmentTask } from '@coopt/shared/math';
import type { Hono } from 'hono';
import { initTfjs } from '../priors/tfjs-runtime.ts';
import { runPrior } from '../work/prior-runner.ts';

type App = Pick<Hono, 'request'>;

/**
 * A volunteer in Node: claims work over the real HTTP API, runs the converted prior in TF.js (wasm)
 * on the lease's images (score and target work, the latter through its alignment), fits T_k for
 * align work, and uploads with the target codec.
 * It stands in for the browser tab where no browser runs; the e2e specs drive real tabs.
 */
export class NodeVolunteer {
  private constructor(
    private readonly app: App,
    readonly token: string,
  ) {}

  static async register(app: App): Promise<NodeVolunteer> {
    const res = await app.request('/api/volunteers', { method: 'POST' });
    return new NodeVolunteer(app, ((await res.json()) as { token: string }).token);
  }

  private get auth() {
    return { authorization: `Bearer ${this.token}` };
  }

  private get(url: string): Promise<Response> {
    return Promise.resolve(this.app.request(url, { headers: this.auth }));
  }

  async claim(): Promise<WorkAssignment | null> {
    const res = await this.app.request('/api/work/claim', {
      method: 'POST',
      headers: { ...this.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ backends: ['wasm'] }),
    });
    if (res.status === 204) return null;
    if (res.status !== 200) throw new Error(`claim failed: ${res.status} ${await res.text()}`);
    return (await res.json()) as WorkAssignment;
  }

  /** Computes the rows an honest volunteer would upload for an assignment. */
  async compute(a: WorkAssignment): Promise<{ ids: Uint32Array; values: Float32Array }> {
    if (a.align) {
      const features = decodeTargets(new Uint8Array(await (await this.get(a.align.featuresUrl)).arrayBuffer()));
      const reference = decodeTargets(new Uint8Array(await (await this.get(a.align.referenceUrl)).arrayBuffer()));
      await initTfjs();
      const values = await solveAlignmentTask(features, reference, a.align);
      return { ids: Uint32Array.from({ length: a.sampleCount }, (_, i) => i), values };
    }
    const modelJson = (await (await this.app.request(a.prior.modelUrl)).json()) as GraphModelJson;
    const weightData = new Uint8Array(await (await this.app.request(a.prior.weightsUrl)).arrayBuffer());
    const ids = Uint32Array.from(
      new Int32Array(await (await this.app.request(a.sampleIdsUrl, { headers: this.auth })).arrayBuffer()),
    );
    const pixels = new Uint8Array(await (await this.app.request(a.samplesUrl, { headers: this.auth })).arrayBuffer());
    const alignment = a.alignmentUrl
      ? {
          map: new Float32Array(await (await this.app.request(a.alignmentUrl, { headers: this.auth })).arrayBuffer()),
          dim: a.rowDim,
        }
      : undefined;
    const values = await runPrior({
      artifacts: { modelJson, weightData },
      meta: a.prior,
      pixels,
      shape: [ids.length, a.dataset.height, a.dataset.width, a.dataset.channels],
      alignment,
    });
    return { ids, values };
  }

  async upload(a: WorkAssignment, rows: { ids: Uint32Array; values: Float32Array }): Promise<Response> {
    return this.app.request(a.resultUrl, {
      method: 'PUT',
      headers: { ...this.auth, 'content-type': 'application/octet-stream' },
      body: encodeTargets({ ids: rows.ids, dim: a.rowDim, values: rows.values }),
    });
  }
}

/**
 * Lets volunteers take turns claiming, computing and uploading until none of them gets work (or
 * `maxTurns` pass); every upload must be accepted. `onDone` hears of each accepted assignment.
 * Returns the assignments done, in order.
 */
export async function workUntilIdle(
  volunteers: NodeVolunteer[],
  maxTurns = 200,
  onDone?: (a: WorkAssignment) => Promise<void>,
): Promise<WorkAssignment[]> {
  const done: WorkAssignment[] = [];
  let idle = 0;
  for (let turn = 0; idle < volunteers.length && turn < maxTurns; turn++) {
    const v = volunteers[turn % volunteers.length] as NodeVolunteer;
    const a = await v.claim();
    if (!a) {
      idle++;
      continue;
    }
    idle = 0;
    const res = await v.upload(a, await v.compute(a));
    if (res.status !== 201) throw new Error(`upload refused: ${res.status} ${await res.text()}`);
    done.push(a);
    await onDone?.(a);
  }
  return done;
}
