/** Why an ONNX file could not become a prior; each maps to a clear 4xx at the API. */
export type ConversionErrorCode =
  | 'malformed'
  | 'external_data'
  | 'too_large'
  | 'unsupported_op'
  | 'dynamic_shape'
  | 'bad_feature_cut'
  | 'mismatch';

export class ConversionError extends Error {
  constructor(
    readonly code: ConversionErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Names the node in every error about one, as `OpType node "name"`. */
export function describeNode(node: { opType: string; name: string; outputs: string[] }): string {
  return `${node.opType} node "${node.name || node.outputs[0] || '?'}"`;
}
