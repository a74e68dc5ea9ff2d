// Drives the walkthrough in JupyterLab with Debian's headless Chromium (playwright-core, no bundled browser):
// open the notebook, run all cells, find the token-ratio explorer, move its slider with the keyboard, check that the
// plotly heat map and the summary change, save a screenshot. Started by run.sh, which starts and stops the server.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (k) => { if (!process.env[k]) throw new Error(`${k} is not set (run this through run.sh)`); return process.env[k]; };
const LAB_URL = env('LAB_URL'), NOTEBOOK = env('NOTEBOOK'), OUT_DIR = env('OUT_DIR');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 1000 * Number(process.env.TIMEOUT_S || 600);
const STEPS = 6; // key presses: 0.2 -> 0.5 in steps of 0.05

const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
const profile = mkdtempSync(join(tmpdir(), 'fpt-chromium-')); // a fresh --user-data-dir
let context, page;
const pageErrors = [];

// What the browser shows of the explorer: the heat map's rendered image (plotly draws a heatmap as an <image>), the
// summary line and the slider's readout.
async function explorerState(explorer) {
  return explorer.evaluate((el) => {
    const hm = el.querySelector('.fpt-token-figure .hm image');
    return {
      heatmap: hm ? (hm.getAttribute('href') || hm.getAttribute('xlink:href') || '') : null,
      summary: el.querySelector('.fpt-token-summary')?.innerText ?? null,
      readout: el.querySelector('.fpt-token-ratio .widget-readout')?.innerText ?? null,
      title: el.querySelector('.fpt-token-figure .gtitle')?.textContent ?? null,
    };
  });
}

async function main() {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
    viewport: { width: 1400, height: 1100 },
  });
  page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
  log(`Chromium ${context.browser()?.version() ?? ''} started`);

  await page.goto(`${LAB_URL}/lab/tree/${NOTEBOOK.split('/').map(encodeURIComponent).join('/')}?reset`);
  await page.waitForFunction(() => window.jupyterapp?.shell?.currentWidget?.sessionContext, null, { timeout: 120_000 });
  const kernel = await page.evaluate(async () => {
    const w = window.jupyterapp.shell.currentWidget;
    await w.context.ready;
    await w.sessionContext.ready;
    return w.sessionContext.session?.kernel?.name ?? null;
  });
  if (!kernel) throw new Error('the notebook opened without a kernel');
  log(`notebook open, kernel ${kernel}; running all cells`);

  // Run every cell and wait for the last one: widget messages queue behind a busy kernel.
  const ran = await Promise.race([
    page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells')),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`the notebook did not finish in ${TIMEOUT / 1000} s`)), TIMEOUT)),
  ]);
  const errors = await page.evaluate(() => {
    const out = [];
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    for (let i = 0; i < cells.length; i++) {
      const c = cells.get(i);
      if (c.type !== 'code') continue;
      for (const o of c.toJSON().outputs || []) if (o.output_type === 'error') out.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
    }
    return out;
  });
  if (errors.length || ran === false) throw new Error(`running the notebook failed:\n${errors.join('\n') || '(run-all reported failure)'}`);
  log('all cells ran without error');

  const explorer = page.locator('.fpt-token-explorer').first();
  await explorer.scrollIntoViewIfNeeded();
  await explorer.locator('.fpt-token-figure .hm image').first().waitFor({ state: 'attached', timeout: 60_000 });
  // the rendered plotly figure: anywidget's view is itself the .js-plotly-plot element (or holds it)
  const figure = explorer.locator('.fpt-token-figure:is(.js-plotly-plot), .fpt-token-figure .js-plotly-plot').first();
  await figure.waitFor({ state: 'visible', timeout: 60_000 });
  const handle = explorer.locator('.fpt-token-ratio .noUi-handle').first();
  await handle.waitFor({ state: 'visible', timeout: 60_000 });
  const before = await explorerState(explorer);
  log(`explorer rendered: readout ${before.readout}; ${before.summary}`);
  if (!before.heatmap || !before.summary) throw new Error(`explorer incomplete: ${JSON.stringify(before)}`);
  if (await page.locator('text=Loading widget...').count()) throw new Error('a widget never loaded (is a lab extension missing?)');

  await explorer.screenshot({ path: join(OUT_DIR, 'widget_before.png') });
  await handle.focus();
  for (let i = 0; i < STEPS; i++) await page.keyboard.press('ArrowRight');
  // Wait for the kernel's answer to the last position: the summary (written by Python) must count
  // floor(ratio * N) tokens for the ratio the readout shows, and the heat map must have been redrawn.
  await page.waitForFunction(
    ([h]) => {
      const el = document.querySelector('.fpt-token-explorer');
      const hm = el?.querySelector('.fpt-token-figure .hm image');
      const href = hm?.getAttribute('href') || hm?.getAttribute('xlink:href');
      const sum = el?.querySelector('.fpt-token-summary')?.innerText || '';
      const ratio = parseFloat(el?.querySelector('.fpt-token-ratio .widget-readout')?.innerText || 'NaN') / 100;
      const m = sum.match(/(\d+)\s+of\s+(\d+)\s+tokens/);
      return href && href !== h && m && Number(m[1]) === Math.floor(ratio * Number(m[2]) + 1e-9);
    },
    [before.heatmap], { timeout: 60_000 });
  const after = await explorerState(explorer);
  log(`after ${STEPS} x ArrowRight: readout ${after.readout}; ${after.summary}`);
  if (after.readout !== '50%') throw new Error(`${STEPS} steps of 5% from 20% should read 50%, not ${after.readout}`);
  if (after.title === before.title) throw new Error('the figure title did not change');
  const kept = (s) => Number((s.match(/(\d+)\s+of\s+\d+\s+tokens/) || [])[1]);
  if (!(kept(after.summary) > kept(before.summary))) throw new Error(`a larger ratio should keep more tokens: ${before.summary} -> ${after.summary}`);

  await explorer.screenshot({ path: join(OUT_DIR, 'widget.png') });
  log(`screenshot ${join(OUT_DIR, 'widget.png')}`);
  const fatal = pageErrors.filter((e) => /widget|anywidget|plotly|Failed to load (view|model) class/i.test(e));
  if (fatal.length) throw new Error(`browser errors about widgets:\n${fatal.join('\n')}`);
}

let rc = 0;
try {
  await main();
  if (pageErrors.length) console.log(`browser console errors (not about widgets, not fatal):\n${pageErrors.join('\n')}`);
  log('PASS');
} catch (e) {
  rc = 1;
  console.error(`FAIL: ${e.stack || e}`);
  if (pageErrors.length) console.error(`browser console errors:\n${pageErrors.join('\n')}`);
  if (page) await page.screenshot({ path: join(OUT_DIR, 'failure.png'), fullPage: false }).catch(() => {});
  if (page && process.env.FPT_DEBUG) console.error(await page.evaluate(() => {
    const el = document.querySelector('.fpt-token-figure');
    if (!el) return 'no plot';
    const walk = (n, d) => [`${' '.repeat(d)}${n.tagName} ${n.getAttribute('class') || ''}`].concat(d < 14 ? [...n.children].flatMap((c) => walk(c, d + 1)) : []);
    return walk(el, 0).join('\n');
  }).catch((e) => String(e)));
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(rc);
