/**
 * The part of the WebAssembly JavaScript API the Winograd transforms use. Node has it as a global;
 * the project's TypeScript libraries (ES2023, Node's types, no DOM) do not declare it.
 */
declare namespace WebAssembly {
  class Memory {
    readonly buffer: ArrayBuffer;
  }
  class Module {
    private constructor();
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  function compile(bytes: Uint8Array<ArrayBuffer>): Promise<Module>;
}
