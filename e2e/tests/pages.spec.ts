import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launchChromium, screenshot, watchErrors } from '../fixtures/browser.ts';
import { AdminPage, ResearcherPage, VolunteerPage } from '../fixtures/pages.ts';
import { type RunningServer, startServer } from '../fixtures/server.ts';

/** The tag of the newest committed migration, which the server applies at start-up. */
function newestMigration(): string {
  const journal = JSON.parse(
    fs.readFileSync(path.resolve(import.meta.dirname, '../../migrations/meta/_journal.json'), 'utf8'),
  );
  return (journal.entries as { tag: string }[]).at(-1)?.tag ?? '';
}

describe('every page loads in real Chromium against the real server', () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    server = await startServer();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });
  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    errors = watchErrors(page);
    return () => page.close();
  });

  it('volunteer page: WebGPU adapter, and the page says it will use WebGPU', async () => {
    const volunteer = new VolunteerPage(page, server.url);
    await volunteer.open();
    expect(await volunteer.heading().innerText()).toBe('Lend your GPU to science');
    expect(await volunteer.webgpuAdapter()).not.toBeNull();
    expect(await volunteer.backend()).toBe('WebGPU');
    expect(await volunteer.healthText()).toContain(`pglite · schema ${newestMigration()}`);
    await screenshot(page, 'volunteer');
    expect(errors).toEqual([]);
  });

  it('admin page: refuses a wrong token, then lists the demo datasets with their labels kept on the server', async () => {
    const admin = new AdminPage(page, server.url);
    await admin.open();
    expect(await admin.webgpuAdapter()).not.toBeNull();
    await admin.signIn('definitely-not-the-token');
    expect(await admin.errorText()).toContain('not the admin token');
    await admin.signIn(server.adminToken);
    await admin.datasetRows().first().waitFor();
    const first = await admin.datasetRows().first().innerText();
    expect(first).toContain('fashion-mnist-test');
    expect(first).toContain('10,000');
    expect(first).toContain('10 classes');
    // The zoo priors were converted and checked against onnxruntime when the server started.
    await admin.priorRows().first().waitFor();
    expect(await admin.priorRows().count()).toBeGreaterThanOrEqual(5);
    expect(await admin.priorRows().first().innerText()).toMatch(/max error \d\.\de-\d+ on 8 images/);
    // ...and the demo campaign over them is ready for volunteers.
    expect(await admin.campaignRows().first().innerText()).toContain('fashion-mnist-demo');
    await screenshot(page, 'admin');
    // The wrong token's 403 is the only console error the page may show.
    expect(errors.filter((e) => !e.includes('403'))).toEqual([]);
  });

  it('admin creates a campaign in the UI by uploading an ONNX file: a clash is named, then conversion and verification are shown', async () => {
    const admin = new AdminPage(page, server.url);
    await admin.open();
    await admin.signIn(server.adminToken);
    await admin.campaignRows().first().waitFor();
    const onnx = path.resolve(import.meta.dirname, '../../zoo/models/convnet-random.onnx');
    // The zoo already registered this model under its own name: the server says so.
    expect(await admin.uploadPrior(onnx, 'convnet-random')).toContain('already exists');
    const verdict = await admin.uploadPrior(onnx, 'convnet-uploaded');
    expect(verdict).toMatch(/^convnet-uploaded: 128 features; matches onnxruntime to \d\.\de-\d+ on 8 images\.$/);
    await admin.createCampaign({ name: 'from-the-ui', shardSize: 2000, sharedSetSize: 200, targetDim: 32 });
    await admin.campaignRows().filter({ hasText: 'from-the-ui' }).waitFor();
    // The new campaign opens in the live view, waiting for its single prior to be scored.
    await admin.liveView().getByText('Shards are handed out once every prior is scored (0/1)').waitFor();
    const created = (await (await fetch(`${server.url}/api/campaigns`)).json()) as {
      campaigns: { name: string; priorIds: number[]; shards: number }[];
    };
    expect(created.campaigns.find((c) => c.name === 'from-the-ui')).toMatchObject({ shards: 5 });
    await screenshot(page, 'admin-new-campaign');
    expect(errors.filter((e) => !e.includes('409'))).toEqual([]);
  });

  it('researcher page: lists the source datasets', async () => {
    const researcher = new ResearcherPage(page, server.url);
    await researcher.open();
    expect(await researcher.webgpuAdapter()).not.toBeNull();
    await researcher.datasetRows().first().waitFor();
    expect(await researcher.datasetRows().first().innerText()).toContain('fashion-mnist-test');
    expect(await page.content()).not.toContain('classes');
    await screenshot(page, 'researcher');
    expect(errors).toEqual([]);
  });
});
