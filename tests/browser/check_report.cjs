// Loads a plotward exposure report (`check --format html`) in headless Chromium, driven by
// playwright-core, and prints as JSON what the page showed and did: every request and
// response, console messages, page errors, dialogs and CSP violations, the DOM's accounts,
// chart bars and table rows, the table's order after clicking headers; and takes a
// full-page screenshot. The Rust test (tests/integration/html_report.rs) asserts on it.
//
// Usage: node check_report.cjs REPORT.html SCREENSHOT.png|- PROFILE_DIR
// Environment: PLAYWRIGHT_DIR (where playwright-core is installed), CHROMIUM (the binary).
'use strict';

const path = require('path');
const { pathToFileURL } = require('url');
const { chromium } = require(path.join(process.env.PLAYWRIGHT_DIR, 'node_modules', 'playwright-core'));

const [report, screenshot, profile] = process.argv.slice(2);

// The machine's network is closed: these keep Chromium from trying to reach out on its own.
const QUIET = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function main() {
  // A persistent context is how playwright takes a fresh `--user-data-dir`.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: QUIET,
    viewport: { width: 1280, height: 900 },
  });
  const seen = { requests: [], responses: [], failed: [], console: [], pageErrors: [], dialogs: [] };
  context.on('request', (r) => seen.requests.push(r.url()));
  context.on('response', (r) => seen.responses.push(`${r.status()} ${r.url()}`));
  context.on('requestfailed', (r) => seen.failed.push(r.url()));
  // Runs before the page's own script, outside its CSP: records what the policy blocked.
  await context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => seen.console.push({ type: m.type(), text: m.text() }));
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
  page.on('dialog', async (d) => {
    seen.dialogs.push(d.message());
    await d.dismiss();
  });

  const url = pathToFileURL(path.resolve(report)).href;
  await page.goto(url, { waitUntil: 'load' });

  const dom = await page.evaluate(() => {
    const all = (root, selector) => Array.from(root.querySelectorAll(selector));
    const text = (root, selector) => root.querySelector(selector)?.textContent ?? null;
    return {
      title: document.title,
      verdict: text(document, '#verdict'),
      checkedAt: document.getElementById('checked-at')?.getAttribute('datetime') ?? null,
      version: text(document, '#version'),
      scripts: all(document, 'script').length,
      // What a name turned into markup would have made.
      injected: all(document, 'img, iframe, object, embed, body script ~ script, a[href]').length,
      totals: Object.fromEntries(all(document, '.card').map((c) => [c.id, c.querySelector('.n').textContent])),
      accounts: all(document, 'section.account').map((s) => ({
        id: s.id,
        account: s.dataset.account,
        heading: text(s, 'h2'),
        policy: text(s, 'code.policy'),
        digest: text(s, 'code.digest'),
        verdict: text(s, 'p.verdict'),
        notes: all(s, '.notes li').map((li) => li.textContent),
        chartTitle: text(s, 'svg.chart > title'),
        bars: all(s, 'g.bar').map((g) => ({
          folder: g.dataset.folder,
          label: text(g, 'text.label'),
          sum: text(g, 'text.sum'),
          counts: [+g.dataset.public, +g.dataset.secret, +g.dataset.private],
          // Drawn, not just present: each segment's rendered width and its level.
          segments: all(g, 'rect').map((r) => [r.getAttribute('class'), Math.round(r.getBoundingClientRect().width)]),
        })),
      })),
      headers: all(document, '#violations-table th').map((th) => th.textContent),
      capped: text(document, '#capped'),
    };
  });

  const rows = () =>
    page.evaluate(() =>
      Array.from(document.querySelectorAll('#violations-table tbody tr')).map((tr) =>
        Array.from(tr.cells).map((td) => td.textContent)));
  const ariaSort = () =>
    page.evaluate(() =>
      Array.from(document.querySelectorAll('#violations-table th')).map((th) => th.getAttribute('aria-sort')));
  const click = (name) => page.getByRole('button', { name, exact: true }).click();

  // As it opens, before any click; the whole page, or the first screen for `-`.
  await page.screenshot(screenshot === '-' ? { path: `${profile}/first-screen.png` } : { path: screenshot, fullPage: true });
  const sorts = { initial: await rows() };
  await click('Now');
  sorts.nowAscending = await rows();
  await click('Now');
  sorts.nowDescending = await rows();
  sorts.ariaAfterNow = await ariaSort();
  await click('Path');
  sorts.pathAscending = await rows();
  await click('Path');
  sorts.pathDescending = await rows();
  await click('Kind');
  sorts.kindAscending = await rows();

  seen.violations = await page.evaluate(() => window.__violations);
  await context.close();
  process.stdout.write(JSON.stringify({ url, seen, dom, sorts }));
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
