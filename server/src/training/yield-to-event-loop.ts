/**
 * Lets timers and I/O run. TF.js reads on the wasm and cpu backends resolve at once, so a long
 * loop of them never gives the event loop a turn; the API shares its process with the training
 * worker, and would not answer until a run ended. Training, encoding and probing loops call this
 * once per step.
 */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
