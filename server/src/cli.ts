import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { ConversionError } from '@coopt/shared/converter';
import { ProgressBar } from './cli/progress-bar.ts';
import { fileSource } from './datasets/byte-source.ts';
import { type CifarVariant, readCifar } from './datasets/cifar-reader.ts';
import { DatasetFileError } from './datasets/dataset-file-error.ts';
import { DatasetExistsError, importDataset } from './datasets/dataset-importer.ts';
import { listAdminDatasets } from './datasets/dataset-views.ts';
import { readIdx } from './datasets/idx-reader.ts';
import { readImageFolder } from './datasets/image-folder-reader.ts';
import { importKnownSource } from './datasets/import-request.ts';
import { findKnownSource, isAvailable, knownSources } from './datasets/known-sources.ts';
import { READ_BATCH_IMAGES, type SampleStream } from './datasets/sample-stream.ts';
import { type Env, EnvError, loadEnv, resolveUserPath } from './env.ts';
import { listPriors } from './priors/prior-views.ts';
import { registerZoo } from './priors/prior-zoo.ts';
import { PriorExistsError, registerPrior } from './priors/register-prior.ts';
import { openRuntime } from './runtime.ts';

const USAGE = `usage: pnpm coopt <command>

  import idx    --name NAME --images FILE [--labels FILE]      IDX files (MNIST layout), gzipped or not
  import cifar  --name NAME [--variant 10|100] FILE...          CIFAR-10/100 binary batches
  import images --name NAME [--size WxH] DIR|TAR                a directory or tar(.gz) of PNG/JPEG images
  import source ID                                              a known source (${knownSources.map((s) => s.id).join(', ')})
  datasets                                                      list datasets
  prior add  --name NAME --onnx FILE [--feature TENSOR | --input-of NODE]
             [--pixel-scale S] [--mean M[,M,M]] [--std S[,S,S]] [--dataset ID]
                                                                convert an ONNX prior, verify it against onnxruntime
  prior zoo                                                     register the committed zoo priors
  priors                                                        list priors
  migrate                                                       apply database migrations

  Every import also takes --chunk-size N (images per stored chunk; default: about 8 MiB of pixels).`;

class UsageError extends Error {}

function parseSize(text: string | undefined): { width: number; height: number } | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+)x(\d+)$/.exec(text);
  if (!m) throw new UsageError(`--size must look like 32x32, not "${text}"`);
  return { width: Number(m[1]), height: Number(m[2]) };
}

async function openStream(env: Env, format: string, args: string[], batchSize: number) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      images: { type: 'string' },
      labels: { type: 'string' },
      variant: { type: 'string' },
      size: { type: 'string' },
      'chunk-size': { type: 'string' },
    },
  });
  const file = (p: string) => {
    const full = resolveUserPath(env, p);
    if (!fs.existsSync(full)) throw new UsageError(`no such file: ${full}`);
    return full;
  };
  if (!values.name) throw new UsageError('--name is required');
  let stream: SampleStream;
  if (format === 'idx') {
    if (!values.images) throw new UsageError('--images is required');
    stream = await readIdx(fileSource(file(values.images)), values.labels ? fileSource(file(values.labels)) : null, {
      batchSize,
    });
  } else if (format === 'cifar') {
    if (positionals.length === 0) throw new UsageError('give at least one CIFAR batch file');
    const variant = values.variant === undefined ? undefined : (Number(values.variant) as CifarVariant);
    if (variant !== undefined && variant !== 10 && variant !== 100) throw new UsageError('--variant is 10 or 100');
    stream = await readCifar(
      positionals.map((p) => fileSource(file(p))),
      { batchSize, variant },
    );
  } else if (format === 'images') {
    const target = positionals[0];
    if (!target || positionals.length > 1) throw new UsageError('give one directory or tar file');
    const full = file(target);
    const input = fs.statSync(full).isDirectory()
      ? ({ kind: 'directory', path: full } as const)
      : ({ kind: 'tar', source: fileSource(full) } as const);
    stream = await readImageFolder(input, { batchSize, size: parseSize(values.size) });
  } else {
    throw new UsageError(`unknown import format "${format}"`);
  }
  return { name: values.name, format: format as 'idx' | 'cifar' | 'images', stream };
}

const numberList = (text: string | undefined, flag: string) => {
  if (text === undefined) return undefined;
  const values = text.split(',').map(Number);
  if (values.some((v) => !Number.isFinite(v))) throw new UsageError(`${flag} takes numbers separated by commas`);
  return values;
};

async function addPrior(env: Env, runtime: Awaited<ReturnType<typeof openRuntime>>, args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      onnx: { type: 'string' },
      feature: { type: 'string' },
      'input-of': { type: 'string' },
      'pixel-scale': { type: 'string' },
      mean: { type: 'string' },
      std: { type: 'string' },
      dataset: { type: 'string' },
    },
  });
  if (!values.name || !values.onnx) throw new UsageError('--name and --onnx are required');
  const file = resolveUserPath(env, values.onnx);
  if (!fs.existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const blob = await runtime.blobs.put(fs.createReadStream(file));
  const bars = { convert: new ProgressBar('convert'), verify: new ProgressBar('verify ') };
  const row = await registerPrior(runtime, {
    name: values.name,
    onnxBlobKey: blob.key,
    featureTensor: values.feature,
    inputOfNode: values['input-of'],
    normalization: {
      pixelScale: numberList(values['pixel-scale'], '--pixel-scale')?.[0],
      mean: numberList(values.mean, '--mean'),
      std: numberList(values.std, '--std'),
    },
    datasetId: values.dataset ? Number(values.dataset) : undefined,
    maxModelBytes: env.COOPT_MAX_MODEL_BYTES,
    onProgress: (p) => {
      if (p.phase === 'convert') bars.convert.update(p.done, p.total, 'nodes');
      if (p.phase === 'verify') bars.verify.update(p.done, p.total, 'images');
    },
  });
  const v = row.verification;
  console.error(
    `\nprior ${row.id} "${row.name}": ${row.inputHeight}x${row.inputWidth}x${row.inputChannels} -> ${row.featureDim} features; ` +
      `max relative error ${v?.maxRelError.toExponential(2)} vs onnxruntime on ${v?.images} images (${v?.backend})`,
  );
}

function chunkSizeOf(args: string[]): number | undefined {
  const i = args.indexOf('--chunk-size');
  if (i === -1) return undefined;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 1 || n > 1 << 20) throw new UsageError('--chunk-size is a positive integer');
  return n;
}

async function run(argv: string[]): Promise<void> {
  const [command, sub, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    console.log(USAGE);
    return;
  }
  const env = loadEnv();
  const runtime = await openRuntime(env);
  try {
    if (command === 'migrate') {
      console.log(`migrations applied (${runtime.database.kind})`);
    } else if (command === 'datasets') {
      for (const d of await listAdminDatasets(runtime.database)) {
        const labels = d.hasLabels ? `labels: ${d.classNames?.length ?? 0} classes` : 'unlabeled';
        console.log(`${d.id}\t${d.name}\t${d.count} x ${d.height}x${d.width}x${d.channels}\t${d.format}\t${labels}`);
      }
    } else if (command === 'priors') {
      for (const p of await listPriors(runtime.database)) {
        const v = p.verification;
        console.log(
          `${p.id}\t${p.name}\t${p.inputHeight}x${p.inputWidth}x${p.inputChannels} -> ${p.featureDim}\tmax rel error ${v?.maxRelError.toExponential(1) ?? '?'}`,
        );
      }
    } else if (command === 'prior' && sub === 'zoo') {
      await registerZoo(runtime, {
        maxModelBytes: env.COOPT_MAX_MODEL_BYTES,
        onPrior: (name, created) =>
          console.log(`${name}: ${created ? 'converted and verified' : 'already registered'}`),
      });
    } else if (command === 'prior' && sub === 'add') {
      await addPrior(env, runtime, rest);
      const source = rest[0] ? findKnownSource(rest[0]) : undefined;
      if (!source) throw new UsageError(`give one of: ${knownSources.map((s) => s.id).join(', ')}`);
      if (!isAvailable(source)) throw new UsageError(`${source.id} is not installed here (${source.images})`);
      const bar = new ProgressBar(`import ${source.id}`);
      const { dataset, created } = await importKnownSource(runtime, source, (p) => bar.update(p.done, p.total));
      bar.finish(
        created ? `done: dataset ${dataset.id}, ${dataset.count} images` : `already imported as dataset ${dataset.id}`,
      );
    } else if (command === 'import' && sub) {
      const chunkSize = chunkSizeOf(rest);
      // Reading more than one stored chunk at a time would only delay progress and hold more memory.
      const { name, format, stream } = await openStream(
        env,
        sub,
        rest,
        Math.min(chunkSize ?? READ_BATCH_IMAGES, READ_BATCH_IMAGES),
      );
      const bar = new ProgressBar(`import ${name}`);
      const dataset = await importDataset(runtime, {
        name,
        format,
        stream,
        chunkSize,
        onProgress: (p) => bar.update(p.done, p.total),
      });
      bar.finish(
        `done: dataset ${dataset.id} "${dataset.name}", ${dataset.count} images of ${dataset.height}x${dataset.width}x${dataset.channels}`,
      );
    } else {
      throw new UsageError(`unknown command "${argv.join(' ')}"`);
    }
  } finally {
    await runtime.close();
  }
}

run(process.argv.slice(2)).catch((err) => {
  if (err instanceof UsageError) {
    console.error(`error: ${err.message}\n\n${USAGE}`);
    process.exit(64);
  }
  if (
    err instanceof DatasetFileError ||
    err instanceof DatasetExistsError ||
    err instanceof EnvError ||
    err instanceof ConversionError ||
    err instanceof PriorExistsError
  ) {
    console.error(`\nerror: ${err.message}`);
    process.exit(2);
  }
  if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`error: ${err.message}\n\n${USAGE}`);
    process.exit(64);
  }
  console.error(err);
  process.exit(1);
});
