// Real-browser test of the docs site (`make docs` -> _docs/): Debian's headless Chromium through playwright-core.
// From the front page: follow the navigation to the FrozenBackbone API page and to the walkthrough, find a drawn plotly
// figure and rendered maths, search for a name. Fails on any console error, page error, or request leaving the local
// server. Screenshots go to OUT_DIR. Started by docs.sh, which serves the site on 127.0.0.1.
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (k) => { if (!process.env[k]) throw new Error(`${k} is not set (run this through docs.sh)`); return process.env[k]; };
const SITE = env('SITE_URL'), OUT_DIR = env('OUT_DIR');
const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
const errors = [], external = [];

const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'fpt-chromium-')), {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, viewport: { width: 1300, height: 1000 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--no-first-run', '--disable-dev-shm-usage'],
});
const page = context.pages()[0] || await context.newPage();
page.setDefaultTimeout(60_000);
page.on('pageerror', (e) => errors.push(`page error: ${e}`));
page.on('console', (m) => { if (m.type() === 'error') errors.push(`console error on ${page.url()}: ${m.text()}`); });
const local = new URL(SITE).host;
await context.route('**/*', (route) => {
  const u = new URL(route.request().url());
  if (['data:', 'blob:', 'about:'].includes(u.protocol) || u.host === local) return route.continue();
  external.push(route.request().url());
  return route.abort();
});
const shot = (name) => page.screenshot({ path: join(OUT_DIR, name), fullPage: false });
let failed = null;
try {
  await page.goto(`${SITE}/index.html`);
  await page.waitForSelector('h1');
  log(`front page: ${await page.title()}`);
  await shot('docs-index.png');

  // navigation: the API reference, then the backbone module's page, then FrozenBackbone on it
  await page.click('.sidebar-tree a[href$="api/index.html"]');
  await page.waitForURL(/api\/index\.html/);
  await page.click('a[href$="fpt_kit.models.backbone.html"]');
  await page.waitForURL(/fpt_kit\.models\.backbone\.html/);
  const fb = page.locator('#frozenbackbone');
  await fb.waitFor();
  const apiText = await page.locator('article').innerText();
  if (!/FrozenBackbone/.test(apiText) || !/token_ratio/.test(apiText)) throw new Error('the FrozenBackbone API page does not show its signature');
  await fb.scrollIntoViewIfNeeded();
  await shot('docs-api.png');
  log('API page: FrozenBackbone with its parameters');

  // navigation: back to the front page, then the walkthrough, with its plotly figures drawn
  await page.goto(`${SITE}/index.html`);
  await page.click('.sidebar-tree a[href$="tutorials/walkthrough.html"]');
  await page.waitForURL(/tutorials\/walkthrough\.html/);
  await page.waitForSelector('div.plotly-graph-div svg.main-svg', { state: 'attached' });
  const figs = await page.locator('div.plotly-graph-div svg.main-svg').count();
  const fig = page.locator('div.plotly-graph-div').first();
  await fig.scrollIntoViewIfNeeded();
  await page.waitForTimeout(500);
  await shot('docs-tutorial.png');
  log(`walkthrough: ${figs} plotly figure(s) drawn`);

  // maths rendered by the local MathJax
  await page.goto(`${SITE}/models.backbone.html`);
  await page.waitForSelector('mjx-container', { state: 'attached', timeout: 30_000 });
  log(`maths: ${await page.locator('mjx-container').count()} formula(s) rendered`);

  // search from the sidebar box
  await page.goto(`${SITE}/index.html`);
  await page.fill('input.sidebar-search', 'FrozenBackbone');
  await page.press('input.sidebar-search', 'Enter');
  await page.waitForSelector('#search-results ul.search li a', { timeout: 30_000 });
  const hits = await page.locator('#search-results ul.search li a').count();
  await shot('docs-search.png');
  log(`search: ${hits} page(s) for FrozenBackbone`);
  if (hits < 1) throw new Error('search found nothing for FrozenBackbone');
} catch (e) { failed = e; }
await context.close();
if (external.length) console.error(`requests that left the local server:\n  ${[...new Set(external)].join('\n  ')}`);
if (errors.length) console.error(`browser errors:\n  ${errors.join('\n  ')}`);
if (failed) console.error(`docs browser test failed: ${failed.stack || failed}`);
const ok = !failed && !external.length && !errors.length;
log(ok ? 'docs browser test passed' : 'docs browser test FAILED');
process.exit(ok ? 0 : 1);
