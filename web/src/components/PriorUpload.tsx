import type { PriorSummary } from '@coopt/server/prior-summary';
import { useState } from 'react';
import { adminApi } from '../api-client.ts';
import { uploadBlob } from '../upload-blob.ts';
import { ProgressBar } from './ProgressBar.tsx';

type Event =
  | { type: 'progress'; phase: 'convert' | 'verify' | 'store'; done: number; total: number }
  | { type: 'done'; prior: PriorSummary }
  | { type: 'error'; status: number; error: { message: string } };

const PHASE = {
  upload: 'Uploading',
  convert: 'Converting to TF.js',
  verify: 'Checking against onnxruntime',
  store: 'Storing',
};

/**
 * Adds a prior from an ONNX file: upload (with progress), then conversion and verification on the
 * server, whose steps stream back as NDJSON. Shows the verification result or the named error.
 */
export function PriorUpload({ token, onAdded }: { token: string; onAdded: (prior: PriorSummary) => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [normalise, setNormalise] = useState('0.286, 0.353');
  const [step, setStep] = useState<{ phase: keyof typeof PHASE; fraction: number } | null>(null);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);

  const add = async () => {
    if (!file) return;
    setResult(null);
    try {
      setStep({ phase: 'upload', fraction: 0 });
      const blob = await uploadBlob(token, file, (sent, total) => setStep({ phase: 'upload', fraction: sent / total }));
      const [mean, std] = normalise.split(',').map((v) => Number(v.trim()));
      const res = await adminApi(token).api.admin.priors.stream.$post({
        json: {
          name,
          onnx: { blob },
          ...(mean !== undefined && std !== undefined && Number.isFinite(mean) && Number.isFinite(std)
            ? { normalization: { pixelScale: 1 / 255, mean: [mean], std: [std] } }
            : {}),
        },
      });
      if (!res.ok || !res.body) {
        const body = (await res.json().catch(() => null)) as { error?: { message: string } } | null;
        throw new Error(body?.error?.message ?? `the server answered ${res.status}`);
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffered += value;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines.filter(Boolean)) {
          const e = JSON.parse(line) as Event;
          if (e.type === 'progress') setStep({ phase: e.phase, fraction: e.total > 0 ? e.done / e.total : 0 });
          else if (e.type === 'error') throw new Error(e.error.message);
          else {
            const v = e.prior.verification;
            setResult({
              ok: true,
              text: `${e.prior.name}: ${e.prior.featureDim} features; matches onnxruntime to ${v ? v.maxRelError.toExponential(1) : '?'} on ${v?.images ?? 0} images.`,
            });
            onAdded(e.prior);
          }
        }
      }
    } catch (err) {
      setResult({ ok: false, text: err instanceof Error ? err.message : String(err) });
    } finally {
      setStep(null);
    }
  };

  return (
    <div className="prior-upload" data-testid="prior-upload">
      <div className="form-grid">
        <label>
          ONNX file
          <input
            type="file"
            accept=".onnx"
            aria-label="ONNX file"
            onChange={(e) => {
              const f = e.target.files?.[0] ?? null;
              setFile(f);
              if (f && !name)
                setName(
                  f.name
                    .replace(/\.onnx$/i, '')
                    .toLowerCase()
                    .replace(/[^a-z0-9._-]/g, '-'),
                );
            }}
          />
        </label>
        <label>
          Prior name
          <input aria-label="Prior name" value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Normalise (mean, std)
          <input aria-label="Normalisation" value={normalise} onChange={(e) => setNormalise(e.target.value)} />
        </label>
      </div>
      <button type="button" disabled={!file || !name || step !== null} onClick={add}>
        {step ? 'Adding…' : 'Upload and convert'}
      </button>
      {step && <ProgressBar label={PHASE[step.phase]} value={step.fraction} testId="prior-progress" />}
      {result && (
        <p className={result.ok ? 'notice' : 'error'} data-testid="prior-result">
          {result.text}
        </p>
      )}
    </div>
  );
}
