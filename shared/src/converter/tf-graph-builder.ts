import type { ConstTensor } from './tensor-data.ts';

/** TF's AttrValue as tfjs-converter reads it from model.json. */
export type TfAttr =
  | { s: string }
  | { i: string }
  | { f: number }
  | { b: boolean }
  | { type: string }
  | { shape: { dim: { size: string }[] } }
  | { list: { i?: string[]; s?: string[]; f?: number[] } };

export interface TfNode {
  name: string;
  op: string;
  input: string[];
  attr: Record<string, TfAttr>;
}

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
}

/** A converted graph model: model.json's content plus its weights as one buffer. */
export interface GraphModelArtifacts {
  modelJson: GraphModelJson;
  weightData: Uint8Array;
}

export interface GraphModelJson {
  format: 'graph-model';
  generatedBy: string;
  convertedBy: string;
  modelTopology: { node: TfNode[]; library: Record<string, never>; versions: { producer: number } };
  signature: {
    inputs: Record<string, { name: string; dtype: string; tensorShape: { dim: { size: string }[] } }>;
    outputs: Record<string, { name: string; dtype: string }>;
  };
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
  userDefinedMetadata?: Record<string, unknown>;
}

const b64 = (text: string) => {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
};

export const attr = {
  str: (s: string): TfAttr => ({ s: b64(s) }),
  int: (i: number): TfAttr => ({ i: String(i) }),
  float: (f: number): TfAttr => ({ f }),
  bool: (b: boolean): TfAttr => ({ b }),
  dtype: (d: 'float32' | 'int32' | 'bool'): TfAttr => ({
    type: d === 'float32' ? 'DT_FLOAT' : d === 'int32' ? 'DT_INT32' : 'DT_BOOL',
  }),
  ints: (v: number[]): TfAttr => ({ list: { i: v.map(String) } }),
  strs: (v: string[]): TfAttr => ({ list: { s: v.map(b64) } }),
  shape: (v: number[]): TfAttr => ({ shape: { dim: v.map((d) => ({ size: String(d) })) } }),
};

/**
 * Collects TF graph nodes and constant weights. Constants stay editable until `build()`, so
 * later passes can fold BatchNormalization into convolution weights.
 */
export class TfGraphBuilder {
  private readonly nodes: TfNode[] = [];
  private readonly names = new Set<string>();
  readonly consts = new Map<string, ConstTensor>();

  /** A unique, TF-safe node name derived from an ONNX name. */
  uniqueName(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./-]/g, '_').replace(/^[^A-Za-z0-9.]+/, '') || 'node';
    let name = clean;
    for (let i = 1; this.names.has(name); i++) name = `${clean}_${i}`;
    this.names.add(name);
    return name;
  }

  addNode(base: string, op: string, input: string[], attrs: Record<string, TfAttr> = {}): TfNode {
    const node: TfNode = { name: this.uniqueName(base), op, input, attr: attrs };
    this.nodes.push(node);
    return node;
  }

  addConst(base: string, value: ConstTensor): string {
    const node = this.addNode(base, 'Const', [], { dtype: attr.dtype(value.dtype) });
    this.consts.set(node.name, value);
    return node.name;
  }

  /** Drops nodes no output depends on (left behind by fusion and folding). */
  private live(outputs: string[]): TfNode[] {
    const byName = new Map(this.nodes.map((n) => [n.name, n]));
    const keep = new Set<string>();
    const stack = outputs.map((o) => o.split(':')[0] as string);
    while (stack.length > 0) {
      const name = stack.pop() as string;
      if (keep.has(name)) continue;
      keep.add(name);
      for (const i of byName.get(name)?.input ?? []) stack.push(i.split(':')[0] as string);
    }
    return this.nodes.filter((n) => keep.has(n.name));
  }

  build(options: {
    input: { node: string; shape: number[] };
    outputs: Record<string, string>;
    metadata: Record<string, unknown>;
    weightsPath: string;
  }): GraphModelArtifacts {
    const nodes = this.live(Object.values(options.outputs));
    const weights: WeightSpec[] = [];
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const n of nodes) {
      const value = this.consts.get(n.name);
      if (!value) continue;
      weights.push({ name: n.name, shape: value.shape, dtype: value.dtype });
      const bytes =
        value.dtype === 'bool'
          ? Uint8Array.from(value.data, (v) => (v ? 1 : 0))
          : new Uint8Array(value.data.buffer, value.data.byteOffset, value.data.byteLength);
      parts.push(bytes);
      total += bytes.byteLength;
    }
    const weightData = new Uint8Array(total);
    let offset = 0;
    for (const p of parts) {
      weightData.set(p, offset);
      offset += p.byteLength;
    }
    const shapeDims = options.input.shape.map((d) => ({ size: String(d) }));
    return {
      modelJson: {
        format: 'graph-model',
        generatedBy: 'onnx',
        convertedBy: 'CoOpt ONNX converter',
        modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
        signature: {
          inputs: { input: { name: `${options.input.node}:0`, dtype: 'DT_FLOAT', tensorShape: { dim: shapeDims } } },
          outputs: Object.fromEntries(
            Object.entries(options.outputs).map(([k, v]) => [
              k,
              { name: v.includes(':') ? v : `${v}:0`, dtype: 'DT_FLOAT' },
            ]),
          ),
        },
        weightsManifest: [{ paths: [options.weightsPath], weights }],
        userDefinedMetadata: options.metadata,
      },
      weightData,
    };
  }
}
