import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot, watchErrors } from '../fixtures/browser.ts';
import { CampaignApi, readSafetensors, testImages } from '../fixtures/campaign-api.ts';
import { AdminPage, ResearcherPage, VolunteerPage } from '../fixtures/pages.ts';
import { recomputeTargets } from '../fixtures/recompute.ts';
import { type RunningServer, startServer } from '../fixtures/server.ts';

const COUNT = 2000;
const N = 16;

describe('volunteer tabs run campaigns in real Chromium', () => {
  let server: RunningServer;
  let browser: Browser;
  let api: CampaignApi;
  const contexts: BrowserContext[] = [];

  /** A tab in a browser profile of its own: one volunteer, with its own token, cache and journal. */
  async function volunteerTab(options: { backend: string; campaign: number; priors?: number[] }) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    const errors = watchErrors(page);
    const tab = new VolunteerPage(page, server.url);
    await tab.openWith(options);
    await tab.start();
    return { context, page, tab, errors };
  }

  beforeAll(async () => {
    // Short leases, so a closed tab's work comes back within seconds.
    server = await startServer({ COOPT_LEASE_SECONDS: '8' });
    browser = await launchChromium();
    api = new CampaignApi(server);
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
  });

  it('three tabs, each on its own zoo prior and backend (WebGPU among them), take a campaign to 100% coverage; the export matches a recomputation in Node', async () => {
    const datasetId = await api.importSubset('fmnist-2k', COUNT);
    const names = ['resnet-sup', 'mobilenet-sup', 'resnet-weak'];
    const ids = await Promise.all(names.map((n) => api.priorId(n)));
    const campaign = await api.post<{ id: number }>('/api/admin/campaigns', {
      name: 'three-tabs',
      datasetId,
      priorIds: ids,
      shardSize: 300,
      sharedSetSize: 100,
      targetDim: N,
      seed: 21,
      verification: { kind: 'spot-check', rate: 0.05, tolerance: 1e-3 },
    });
    const backends = ['webgpu', 'wasm', 'webgl'];
    const tabs: Awaited<ReturnType<typeof volunteerTab>>[] = [];
    for (const [i, backend] of backends.entries())
      tabs.push(await volunteerTab({ backend, campaign: campaign.id, priors: [ids[i] as number] }));

    let shot = false;
    await api.waitForComplete(campaign.id, 420_000, async () => {
      // A picture of the tab while it computes.
      if (!shot && (await tabs[0]?.tab.workerState()) === 'run' && ((await tabs[0]?.tab.shardProgress()) ?? 0) > 0) {
        await screenshot((tabs[0] as (typeof tabs)[number]).page, 'volunteer-running');
        shot = true;
      }
    });

    for (const [i, t] of tabs.entries()) {
      expect(await t.tab.backend()).toBe(['WebGPU', 'WebAssembly (CPU)', 'WebGL'][i]);
      // Every tab scored its prior and targeted shards with it.
      await expect.poll(() => t.tab.itemsFinished(), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      await expect.poll(() => t.tab.campaignProgress(), { timeout: 10_000 }).toBe(100);
      expect(await t.tab.credit()).toBeGreaterThan(0);
      expect(t.errors).toEqual([]);
    }
    await screenshot((tabs[0] as (typeof tabs)[number]).page, 'volunteer');

    const manifest = await api.json<{ bestPriorId: number; shards: { priorId: number }[]; rows: number }>(
      `/api/campaigns/${campaign.id}/rounds/1/manifest.json`,
    );
    expect(manifest.rows).toBe(COUNT - 100);
    expect(new Set(manifest.shards.map((s) => s.priorId))).toEqual(new Set(ids));

    const at = readSafetensors(await api.bytes(`/api/campaigns/${campaign.id}/rounds/1/targets.safetensors`));
    const targets = new Float32Array(at('targets').bytes.buffer);
    const sampleIds = Array.from(new BigInt64Array(at('sample_ids').bytes.buffer), Number);
    const priorOf = new Int32Array(at('prior_ids').bytes.buffer);
    const pixels = testImages(COUNT);
    for (const [i, name] of names.entries()) {
      const rows = [...priorOf.keys()].filter((r) => priorOf[r] === ids[i]);
      const map = new Float32Array(
        (await api.bytes(`/api/campaigns/${campaign.id}/rounds/1/alignments/${ids[i]}`)).slice().buffer,
      );
      const expected = await recomputeTargets(
        name,
        pixels,
        rows.map((r) => sampleIds[r] as number),
        map,
        N,
      );
      let maxDiff = 0;
      let maxAbs = 0;
      rows.forEach((r, k) => {
        for (let j = 0; j < N; j++) {
          const e = expected[k * N + j] as number;
          maxDiff = Math.max(maxDiff, Math.abs(e - (targets[r * N + j] as number)));
          maxAbs = Math.max(maxAbs, Math.abs(e));
        }
      });
      expect(maxDiff / maxAbs, `${name} (${backends[i]})`).toBeLessThan(1e-3);
    }

    // The researcher page offers the round's downloads, its manifest and a Python snippet.
    const researcher = new ResearcherPage(tabs[0]?.page as (typeof tabs)[number]['page'], server.url);
    await researcher.open();
    await researcher.downloads('three-tabs').getByTestId('manifest-priors').waitFor();
    expect(await researcher.pythonSnippet('three-tabs')).toContain(
      `/api/campaigns/${campaign.id}/rounds/1/targets.npz`,
    );
    await screenshot(researcher.page, 'researcher-downloads');
    // The admin's live view of the finished campaign: every shard done, charts drawn.
    const admin = new AdminPage(researcher.page, server.url);
    await admin.open();
    await admin.signIn(server.adminToken);
    await admin.selectCampaign('three-tabs');
    await admin.liveView().getByTestId('kpi-coverage').filter({ hasText: '100%' }).waitFor();
    expect(await admin.liveView().locator('.coverage-map .cell.done').count()).toBe(manifest.shards.length);
    expect(await admin.liveView().locator('.recharts-bar-rectangle').count()).toBeGreaterThanOrEqual(3 + 3 + 2);
    // The finished round queued a student-training job; the server's worker runs it and its loss curve appears.
    await admin.liveView().getByTestId('training-curves').waitFor({ timeout: 120_000 });
    await admin
      .liveView()
      .getByTestId('round-table')
      .getByText(/run \d+: done/)
      .waitFor({ timeout: 120_000 });
    await screenshot(researcher.page, 'admin-live');
    // The admin starts a baseline from the form; the worker runs it, and the round's report draws both runs.
    const runs = await admin.startTraining(1, 'random', 1);
    await runs.getByText(/Run \d+ queued/).waitFor();
    await runs
      .locator('tr', { hasText: 'random' })
      .getByText(/probe \d+\.\d ± \d+\.\d%/)
      .waitFor({ timeout: 120_000 });
    await runs.locator('tr', { hasText: 'coopt' }).getByRole('link', { name: 'model.json' }).waitFor();
    const report = admin.liveView().getByTestId('research-report');
    await expect
      .poll(() =>
        report
          .locator('img')
          .evaluateAll((imgs) => imgs.filter((i) => (i as HTMLImageElement).naturalWidth > 0).length),
      )
      .toBe(3);
    const markdown = await (await fetch(`${server.url}/api/campaigns/${campaign.id}/rounds/1/report.md`)).text();
    expect(markdown).toMatch(/\| Acc\. \(%\) \| \d+\.\d ± \d+\.\d \| \d+\.\d ± \d+\.\d/);
    await screenshot(researcher.page, 'admin-training');
    await researcher.open();
    await researcher.downloads('three-tabs').getByRole('link', { name: 'model.json' }).first().waitFor();
    for (const c of contexts.splice(0)) await c.close();
  }, 600_000);

  it('a reload resumes without recomputing; a tab closed mid-shard loses its lease and another tab finishes the shard', async () => {
    const datasetId = await api.importSubset('fmnist-600', 600);
    const prior = await api.priorId('resnet-sup');
    const campaign = await api.post<{ id: number }>('/api/admin/campaigns', {
      name: 'closed-tab',
      datasetId,
      priorIds: [prior],
      shardSize: 500,
      sharedSetSize: 100,
      targetDim: N,
      seed: 4,
      verification: { kind: 'none' },
    });
    const first = await volunteerTab({ backend: 'webgl', campaign: campaign.id });
    // Waits until the tab is part-way through its target shard.
    const midShard = () =>
      expect
        .poll(
          async () => {
            const state = await first.page.getByTestId('worker-state').innerText();
            const done = await first.tab.shardProgress();
            return state.startsWith('Computing targets') && done > 0 && done < 90;
          },
          { timeout: 120_000, interval: 100 },
        )
        .toBe(true);
    await midShard();
    await first.page.reload();
    await first.tab.resumed().waitFor({ timeout: 60_000 });
    expect(await first.tab.resumed().innerText()).toMatch(/^\d+ rows, not recomputed$/);
    // While the worker computes, the page's thread never blocks for 50 ms (no long task).
    const longTasks = await first.page.evaluate(
      () =>
        new Promise<number[]>((resolve) => {
          const seen: number[] = [];
          const observer = new PerformanceObserver((list) => {
            for (const e of list.getEntries()) seen.push(e.duration);
          });
          observer.observe({ type: 'longtask' });
          setTimeout(() => {
            observer.disconnect();
            resolve(seen);
          }, 2500);
        }),
    );
    expect(longTasks).toEqual([]);
    // Pause holds the shard where it is; a hidden tab pauses on its own.
    await first.tab.togglePause();
    await expect.poll(() => first.tab.workerState(), { timeout: 20_000 }).toBe('paused');
    const held = await first.tab.shardProgress();
    await first.page.waitForTimeout(2000);
    expect(await first.tab.shardProgress()).toBe(held);
    await first.tab.togglePause();
    await expect.poll(() => first.tab.workerState(), { timeout: 20_000 }).not.toBe('paused');
    await first.page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await first.page.getByText('Paused while this tab is hidden.').waitFor({ timeout: 20_000 });
    expect(await first.tab.shardProgress()).toBeLessThan(100);
    await first.context.close();

    const second = await volunteerTab({ backend: 'wasm', campaign: campaign.id });
    await api.waitForComplete(campaign.id, 120_000);
    const stats = await api.json<{ leases: { expired: number } }>(`/api/campaigns/${campaign.id}/stats`);
    expect(stats.leases.expired).toBeGreaterThanOrEqual(1);
    await expect.poll(() => second.tab.itemsFinished(), { timeout: 10_000 }).toBe(1);
    const manifest = await api.json<{ rows: number }>(`/api/campaigns/${campaign.id}/rounds/1/manifest.json`);
    expect(manifest.rows).toBe(500);
    expect(second.errors).toEqual([]);
  }, 300_000);
});
