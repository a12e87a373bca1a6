import protobuf from 'protobufjs';
import { ConversionError } from './conversion-error.ts';

/**
 * The subset of onnx.proto this converter reads, with ONNX's own field numbers.
 * Unknown fields (training info, functions, sparse tensors) are skipped by the decoder.
 */
const root = protobuf.Root.fromJSON({
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            graph: { type: 'GraphProto', id: 7 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            domain: { type: 'string', id: 7 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'int32', id: 20 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            g: { type: 'GraphProto', id: 6 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            strings: { rule: 'repeated', type: 'bytes', id: 9 },
          },
        },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        TypeProto: { fields: { tensorType: { type: 'TensorTypeProto', id: 1 } } },
        TensorTypeProto: { fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } } },
        TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'DimensionProto', id: 1 } } },
        DimensionProto: { fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } } },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            floatData: { rule: 'repeated', type: 'float', id: 4 },
            int32Data: { rule: 'repeated', type: 'int32', id: 5 },
            int64Data: { rule: 'repeated', type: 'int64', id: 7 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
            doubleData: { rule: 'repeated', type: 'double', id: 10 },
            externalData: { rule: 'repeated', type: 'StringStringEntryProto', id: 13 },
            dataLocation: { type: 'int32', id: 14 },
          },
        },
        StringStringEntryProto: { fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
      },
    },
  },
});
const ModelProto = root.lookupType('onnx.ModelProto');

export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array | null;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  doubleData: number[];
  external: boolean;
}

export type OnnxAttribute =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: OnnxTensor }
  | { kind: 'floats'; value: number[] }
  | { kind: 'ints'; value: number[] }
  | { kind: 'strings'; value: string[] }
  | { kind: 'graph' };

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, OnnxAttribute>;
}

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  /** Static sizes, or the symbolic name (e.g. "batch") of a dynamic dimension. */
  dims: (number | string)[];
}

export interface OnnxModel {
  opset: number;
  producer: string;
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

/** Generous upper bound on one tensor: far above any prior a browser could run. */
export const MAX_TENSOR_ELEMENTS = 1 << 28;

const toNumber = (v: unknown): number => (typeof v === 'number' ? v : Number(v as bigint | { toString(): string }));

type Raw = Record<string, unknown>;

function readTensor(raw: Raw): OnnxTensor {
  const dims = ((raw.dims as unknown[]) ?? []).map(toNumber);
  return {
    name: (raw.name as string) ?? '',
    dims,
    dataType: (raw.dataType as number) ?? 0,
    rawData: raw.rawData && (raw.rawData as Uint8Array).length > 0 ? (raw.rawData as Uint8Array) : null,
    floatData: (raw.floatData as number[]) ?? [],
    int32Data: (raw.int32Data as number[]) ?? [],
    int64Data: ((raw.int64Data as unknown[]) ?? []).map(toNumber),
    doubleData: (raw.doubleData as number[]) ?? [],
    external: (raw.dataLocation as number) === 1 || ((raw.externalData as unknown[]) ?? []).length > 0,
  };
}

const ATTRIBUTE_KIND: Record<number, OnnxAttribute['kind']> = {
  1: 'float',
  2: 'int',
  3: 'string',
  4: 'tensor',
  5: 'graph',
  6: 'floats',
  7: 'ints',
  8: 'strings',
};

function readAttribute(raw: Raw): OnnxAttribute {
  const kind = ATTRIBUTE_KIND[(raw.type as number) ?? 0];
  const text = new TextDecoder();
  switch (kind) {
    case 'float':
      return { kind, value: (raw.f as number) ?? 0 };
    case 'int':
      return { kind, value: toNumber(raw.i ?? 0) };
    case 'string':
      return { kind, value: text.decode((raw.s as Uint8Array) ?? new Uint8Array()) };
    case 'tensor':
      return { kind, value: readTensor((raw.t as Raw) ?? {}) };
    case 'floats':
      return { kind, value: (raw.floats as number[]) ?? [] };
    case 'ints':
      return { kind, value: ((raw.ints as unknown[]) ?? []).map(toNumber) };
    case 'strings':
      return { kind, value: ((raw.strings as Uint8Array[]) ?? []).map((s) => text.decode(s)) };
    case 'graph':
      return { kind };
    default:
      throw new ConversionError('malformed', `attribute "${raw.name}" has unknown type ${raw.type}`);
  }
}

function readValueInfo(raw: Raw): OnnxValueInfo {
  const tensorType = ((raw.type as Raw)?.tensorType as Raw) ?? {};
  const dims = (((tensorType.shape as Raw)?.dim as Raw[]) ?? []).map((d) =>
    d.dimParam ? (d.dimParam as string) : toNumber(d.dimValue ?? 0),
  );
  return { name: raw.name as string, elemType: (tensorType.elemType as number) ?? 0, dims };
}

/**
 * Decodes an ONNX file. Refuses, with a reason, what cannot be a prior: bytes that are not a
 * model, tensors stored in external files, and tensors whose declared size the file cannot hold.
 */
export function parseOnnxModel(bytes: Uint8Array): OnnxModel {
  let raw: Raw;
  try {
    raw = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, defaults: false }) as Raw;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ConversionError('malformed', `not a readable ONNX file (${why}); is it truncated?`);
  }
  const graph = raw.graph as Raw | undefined;
  if (!graph || !Array.isArray(graph.node) || graph.node.length === 0) {
    throw new ConversionError('malformed', 'the file holds no ONNX graph');
  }
  const opsets = ((raw.opsetImport as Raw[]) ?? []).filter((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = toNumber(opsets[0]?.version ?? 0);

  const initializers = new Map<string, OnnxTensor>();
  for (const t of (graph.initializer as Raw[]) ?? []) {
    const tensor = readTensor(t);
    checkTensor(tensor, `initializer "${tensor.name}"`);
    initializers.set(tensor.name, tensor);
  }
  const nodes: OnnxNode[] = ((graph.node as Raw[]) ?? []).map((n) => {
    const attributes = new Map<string, OnnxAttribute>();
    for (const a of (n.attribute as Raw[]) ?? []) {
      const attr = readAttribute(a);
      if (attr.kind === 'tensor') checkTensor(attr.value, `the value of node "${n.name}"`);
      attributes.set(a.name as string, attr);
    }
    return {
      name: (n.name as string) ?? '',
      opType: (n.opType as string) ?? '',
      domain: (n.domain as string) ?? '',
      inputs: (n.input as string[]) ?? [],
      outputs: (n.output as string[]) ?? [],
      attributes,
    };
  });
  return {
    opset,
    producer: `${raw.producerName ?? ''} ${raw.producerVersion ?? ''}`.trim(),
    nodes,
    initializers,
    inputs: ((graph.input as Raw[]) ?? []).map(readValueInfo).filter((i) => !initializers.has(i.name)),
    outputs: ((graph.output as Raw[]) ?? []).map(readValueInfo),
  };
}

const ELEMENT_BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8 };

/** A tensor's declared dims must match the data it carries; external data is refused outright. */
function checkTensor(t: OnnxTensor, what: string): void {
  if (t.external) {
    throw new ConversionError(
      'external_data',
      `${what} keeps its data in an external file; re-export with the weights inside the .onnx file`,
    );
  }
  if (t.dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ConversionError('malformed', `${what} has invalid dims [${t.dims.join(', ')}]`);
  }
  const count = t.dims.reduce((a, d) => a * d, 1);
  if (count > MAX_TENSOR_ELEMENTS) {
    throw new ConversionError('too_large', `${what} declares ${count} elements, more than any prior may hold`);
  }
  const size = ELEMENT_BYTES[t.dataType];
  if (size === undefined) return;
  if (t.rawData) {
    if (t.rawData.length !== count * size) {
      throw new ConversionError(
        'malformed',
        `${what} declares dims [${t.dims.join(', ')}] (${count * size} bytes) but the file holds ${t.rawData.length} bytes for it`,
      );
    }
    return;
  }
  const held = t.floatData.length + t.int32Data.length + t.int64Data.length + t.doubleData.length;
  if (held !== 0 && held !== count) {
    throw new ConversionError(
      'malformed',
      `${what} declares dims [${t.dims.join(', ')}] (${count} values) but the file holds ${held} values for it`,
    );
  }
}

/**
 * Makes any intermediate tensor a graph output, so a reference runtime can return it. Protobuf
 * merges a repeated embedded message field into the existing one, so appending a second `graph`
 * field that holds only the new output extends the model without re-encoding it.
 */
export function withGraphOutput(bytes: Uint8Array, tensorName: string): Uint8Array {
  const extra = ModelProto.encode(
    ModelProto.fromObject({
      graph: { output: [{ name: tensorName, type: { tensorType: { elemType: OnnxDataType.FLOAT } } }] },
    }),
  ).finish();
  const out = new Uint8Array(bytes.length + extra.length);
  out.set(bytes, 0);
  out.set(extra, bytes.length);
  return out;
}

/** Encodes a model from plain fields named as in onnx.proto (camelCase); used to build test models. */
export function encodeOnnxModel(model: Record<string, unknown>): Uint8Array {
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}
