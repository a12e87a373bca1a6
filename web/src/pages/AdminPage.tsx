import { useState } from 'react';
import { adminApi, unwrap } from '../api-client.ts';
import { CampaignLive } from '../components/CampaignLive.tsx';
import { CampaignTable } from '../components/CampaignTable.tsx';
import { DatasetTable } from '../components/DatasetTable.tsx';
import { NewCampaignForm } from '../components/NewCampaignForm.tsx';
import { PriorTable } from '../components/PriorTable.tsx';
import { useAsync } from '../use-async.ts';

const TOKEN_KEY = 'coopt.adminToken';

export function AdminPage() {
  const [token, setToken] = useState(() => sessionStorage.getItem(TOKEN_KEY) ?? '');
  const [draft, setDraft] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [selected, setSelected] = useState<{ id: number; name: string } | null>(null);

  const client = adminApi(token);
  const data = useAsync(async () => {
    if (!token) return null;
    const [datasets, sources, priors, campaigns] = await Promise.all([
      client.api.admin.datasets.$get().then(unwrap),
      client.api.admin.datasets.sources.$get().then(unwrap),
      client.api.admin.priors.$get().then(unwrap),
      client.api.campaigns.$get().then(unwrap),
    ]);
    return {
      datasets: datasets.datasets,
      sources: sources.sources,
      priors: priors.priors,
      campaigns: campaigns.campaigns,
    };
  }, [token]);

  // The chosen campaign, else the newest one.
  const newest = data.data?.campaigns.at(-1);
  const shown = selected ?? (newest ? { id: newest.id, name: newest.name } : null);

  const signIn = (t: string) => {
    sessionStorage.setItem(TOKEN_KEY, t);
    setToken(t);
  };

  const importSource = async (id: string) => {
    setBusy(id);
    setNotice(null);
    try {
      const d = await unwrap(await client.api.admin.datasets.$post({ json: { format: 'source', source: id } }));
      setNotice(`Imported ${d.name}: ${d.count.toLocaleString('en')} images.`);
      data.reload();
    } catch (err) {
      setNotice(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(null);
    }
  };

  if (!token || data.error) {
    return (
      <section className="card narrow">
        <h1>Admin</h1>
        <p>Paste the admin token that the server printed when it started (or the value of COOPT_ADMIN_TOKEN).</p>
        {data.error && <p className="error">{data.error}</p>}
        <form
          onSubmit={(e) => {
            e.preventDefault();
            signIn(draft.trim());
          }}
          className="row"
        >
          <input
            type="password"
            aria-label="Admin token"
            placeholder="admin token"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
          />
          <button type="submit" className="primary">
            Sign in
          </button>
        </form>
      </section>
    );
  }

  return (
    <>
      <div className="row spread">
        <h1>Admin</h1>
        <button type="button" onClick={() => signIn('')}>
          Sign out
        </button>
      </div>
      <section className="card">
        <h2>Datasets</h2>
        {data.data && <DatasetTable datasets={data.data.datasets} />}
        {notice && <p className="notice">{notice}</p>}
      </section>
      <section className="card">
        <h2>Known sources</h2>
        <p className="muted">
          Import more with <code>pnpm coopt import idx|cifar|images …</code>, or from these files found on the server:
        </p>
        <ul className="sources">
          {data.data?.sources.map((s) => (
            <li key={s.id}>
              <span>{s.title}</span>
              {s.importedAs !== null ? (
                <span className="tag ok">imported</span>
              ) : s.available ? (
                <button type="button" disabled={busy !== null} onClick={() => importSource(s.id)}>
                  {busy === s.id ? 'Importing…' : 'Import'}
                </button>
              ) : (
                <span className="tag">not installed</span>
              )}
            </li>
          ))}
        </ul>
      </section>
      <section className="card">
        <h2>Prior models</h2>
        {data.data && <PriorTable priors={data.data.priors} />}
        <p className="muted">
          Add one from an ONNX file under <em>New campaign</em>, or with{' '}
          <code>pnpm coopt prior add --name NAME --onnx FILE</code>; it is converted to TF.js and checked against
          onnxruntime on dataset images first.
        </p>
      </section>
      <section className="card">
        <div className="row spread">
          <h2>Campaigns</h2>
          <button type="button" onClick={() => setCreating(!creating)}>
            {creating ? 'Close' : 'New campaign'}
          </button>
        </div>
        {creating && data.data && (
          <NewCampaignForm
            token={token}
            datasets={data.data.datasets}
            priors={data.data.priors}
            onCreated={(c) => {
              setCreating(false);
              setSelected({ id: c.id, name: c.name });
              setNotice(`Campaign ${c.name} created with ${c.shards} shards; volunteers can start.`);
              data.reload();
            }}
          />
        )}
        {data.data && (
          <CampaignTable
            campaigns={data.data.campaigns}
            selected={shown?.id ?? null}
            onSelect={(c) => setSelected({ id: c.id, name: c.name })}
          />
        )}
      </section>
      {shown && (
        <section className="card">
          <h2>Live: {shown.name}</h2>
          <CampaignLive campaignId={shown.id} name={shown.name} adminToken={token} />
        </section>
      )}
    </>
  );
}
