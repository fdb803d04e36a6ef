// Opens each HTML report of a manifest in headless Chromium and checks the rendered page:
// what must be there is there (the divergent step highlighted, every step present, the
// timeline, the coverage matrix, the table), no console error, no request beyond the file
// itself. Saves a full-page screenshot of each. Exit status 1 on any failed expectation.
//
//   node check-report.mjs MANIFEST.json
//
// MANIFEST: [{ "file": "...html", "screenshot": "...png", "expect": { "verdict": "...",
//   "steps": N, "divergent": N, "timeline_bars": N, "dead_ends": true, "matrix": true,
//   "table_rows": N } }, ...]   (every expectation is optional)
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const manifest = JSON.parse(readFileSync(process.argv[2], "utf8"));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const failures = [];
for (const entry of manifest) {
  const fail = (what) => failures.push(`${entry.file}: ${what}`);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const url = pathToFileURL(entry.file).href;
  const consoleErrors = [];
  const requests = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("request", (r) => { if (r.url() !== url) requests.push(r.url()); });
  await page.goto(url, { waitUntil: "load" });
  const e = entry.expect || {};
  const count = (selector) => page.locator(selector).count();
  if (consoleErrors.length) fail(`console errors: ${consoleErrors.join(" | ")}`);
  if (requests.length) fail(`network requests: ${requests.join(", ")}`);
  if (e.verdict !== undefined) {
    const verdict = (await page.locator("#verdict").innerText()).trim();
    if (verdict !== e.verdict) fail(`verdict "${verdict}", expected "${e.verdict}"`);
  }
  if (e.steps !== undefined) {
    const steps = await count("tr.step");
    if (steps !== e.steps) fail(`${steps} steps in the DOM, expected ${e.steps}`);
    // Every step is there once, numbered 1..N.
    const ids = await page.locator("tr.step").evaluateAll((rows) => rows.map((r) => r.id));
    const want = Array.from({ length: e.steps }, (_, i) => `step-${i + 1}`);
    if (JSON.stringify(ids) !== JSON.stringify(want)) fail(`step ids ${ids.join(",")}`);
  }
  if (e.divergent !== undefined) {
    const marked = page.locator("tr.step.divergent");
    if ((await marked.count()) !== 1) fail(`${await marked.count()} divergent steps highlighted`);
    else {
      const id = await marked.getAttribute("id");
      if (id !== `step-${e.divergent}`) fail(`highlighted ${id}, expected step-${e.divergent}`);
      if (!(await marked.isVisible())) fail("the divergent step is not visible");
      const bg = await marked.locator("td").first().evaluate((td) => getComputedStyle(td).backgroundColor);
      if (bg === "rgba(0, 0, 0, 0)" || bg === "rgb(255, 255, 255)") fail(`divergent step not highlighted (background ${bg})`);
    }
  }
  // Every handle link points at an anchor that exists.
  const broken = await page.locator("a[href^='#']").evaluateAll((links) =>
    links.map((a) => a.getAttribute("href").slice(1)).filter((id) => !document.getElementById(id)));
  if (broken.length) fail(`links to missing anchors: ${[...new Set(broken)].join(", ")}`);
  if (e.timeline_bars !== undefined) {
    const bars = await count("svg.timeline g.bar");
    if (bars !== e.timeline_bars) fail(`${bars} timeline bars, expected ${e.timeline_bars}`);
    if ((await count("svg.timeline title")) < 1) fail("the timeline has no text alternative");
    const rows = await count("table.events tr.event");
    if (rows !== e.timeline_bars) fail(`${rows} rows in the events table, expected ${e.timeline_bars}`);
  }
  if (e.dead_ends && (await count("ol.dead-ends li")) < 1) fail("no orders tried are listed");
  if (e.matrix) {
    const cells = await count("table.matrix td.hit, table.matrix td.zero");
    if (cells < 10) fail(`coverage matrix has ${cells} cells`);
  }
  if (e.table_rows !== undefined) {
    const rows = await count("section#table tbody tr");
    if (rows !== e.table_rows) fail(`${rows} table rows, expected ${e.table_rows}`);
  }
  if (entry.screenshot) await page.screenshot({ path: entry.screenshot, fullPage: true });
  await page.close();
}
await browser.close();
if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
console.log(`${manifest.length} reports rendered and checked in Chromium`);
