import { register } from 'node:module';

/**
 * tfjs-core registers no gradients by itself; its `register_all_gradients` module does, but that
 * file (like all of tfjs-core's ESM build) imports its siblings without file extensions, which
 * bundlers and Vitest accept and plain Node does not. This resolve hook retries such imports
 * inside @tensorflow packages with `.js`, so the server and `pnpm bench` load the same module the
 * tests do. The gradient registry is global, so every copy of tfjs-core in the process sees it.
 */
const HOOK = `export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    const relative = specifier.startsWith('./') || specifier.startsWith('../');
    if (relative && !specifier.endsWith('.js') && context.parentURL && context.parentURL.includes('/@tensorflow/')) {
      return next(specifier + '.js', context);
    }
    throw err;
  }
}`;

let loaded: Promise<void> | null = null;

export function registerAllGradients(): Promise<void> {
  loaded ??= (async () => {
    register(`data:text/javascript,${encodeURIComponent(HOOK)}`);
    await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  })();
  return loaded;
}
