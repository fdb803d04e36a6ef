//! The HTML report: rendered for a passing campaign, a shrunk sequential failure (the example
//! adapter's bug), a concurrent failure and the flaw table (with `--features flaws`), and a
//! nightly fuzz summary. The plain tests read the HTML; the browser test (run by .ci/run, which
//! installs Debian's chromium and playwright-core) opens every report in headless Chromium,
//! checks the rendered DOM, that nothing logged an error or asked the network, and saves
//! screenshots under target/report-screenshots/.

#[path = "../examples/minisession/adapter.rs"]
mod adapter;
#[path = "../examples/minisession/service.rs"]
mod service;

use authcheck::campaign::{self, CheckOptions, Finding, Mix, Target};
use authcheck::html;
use authcheck::model::{Op, Params, Profile};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn passing() -> String {
    let opts = CheckOptions {
        cases: 20,
        seed: 11,
        target: Target::memory(),
        mix: Mix::Mixed,
        ..CheckOptions::default()
    };
    let summary = campaign::check(&opts, |_| {});
    assert!(summary.failure.is_none());
    html::render(&html::check_page(&opts, &summary, None)).unwrap()
}

/// The example adapter's buggy build: a real finding, shrunk, without the `flaws` feature.
fn sequential_failure() -> (String, usize, usize) {
    let opts = CheckOptions {
        cases: 300,
        seed: 1,
        target: Target::Custom(Arc::new(adapter::MiniSession {
            variant: service::Variant::Buggy,
        })),
        mix: Mix::Sequential,
        ..CheckOptions::default()
    };
    let summary = campaign::check(&opts, |_| {});
    let Some(Finding::Sequential(f)) = &summary.failure else {
        panic!("the buggy example passed");
    };
    let page = html::check_page(&opts, &summary, Some("authcheck-failures/seed-1.trace"));
    (
        html::render(&page).unwrap(),
        f.ops.len(),
        f.failure.step + 1,
    )
}

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

/// Every `href="#x"` has an element with `id="x"`.
fn assert_links_resolve(html: &str) {
    for href in html.split("href=\"#").skip(1) {
        let id = &href[..href.find('"').unwrap()];
        assert!(
            html.contains(&format!("id=\"{id}\"")),
            "a link to #{id}, which is nowhere"
        );
    }
}

#[test]
fn a_passing_campaign_shows_its_verdict_and_every_pair_of_the_matrix() {
    let html = passing();
    assert!(html.contains(r#"<span class="verdict pass" id="verdict">no divergence</span>"#));
    assert!(
        html.contains("authcheck check --seed 11 --cases 20 --mode deterministic --store memory")
    );
    // The pairs in the in-process target's scope (an upgrade's rollout and crash steps are not).
    let pairs =
        authcheck::coverage::Coverage::scoped(Default::default(), Target::memory().capabilities())
            .total();
    assert_eq!(
        count(&html, "<td class=\"hit\">") + count(&html, "<td class=\"zero\">"),
        pairs
    );
    assert_eq!(count(&html, "tr class=\"step"), 0);
    assert!(!html.contains("<script"), "the report has no script");
}

#[test]
fn a_sequential_failure_is_a_sequence_diagram_with_the_divergent_step_marked() {
    let (html, steps, divergent) = sequential_failure();
    assert_eq!(count(&html, "<tr class=\"step"), steps);
    assert_eq!(count(&html, "<tr class=\"step divergent\""), 1);
    assert!(html.contains(&format!(
        "<tr class=\"step divergent\" id=\"step-{divergent}\" aria-current=\"step\">"
    )));
    assert!(html.contains("replay the minimal trace"));
    // (minijinja escapes `/` too.)
    assert!(html.contains("authcheck replay authcheck-failures&#x2f;seed-1.trace"));
    assert!(
        count(&html, "href=\"#issued-") >= 1,
        "handles link to where they were issued"
    );
    assert_links_resolve(&html);
}

#[test]
fn what_the_service_or_a_trace_says_is_escaped() {
    let steps = vec![html::sequence::StepInput {
        op: Op::Register {
            user: "<script>alert(1)</script>".into(),
            password: "\"><img src=x onerror=alert(2)>".into(),
            mfa: false,
        },
        expected: "registered".into(),
        actual: Some("<b>bold</b>".into()),
    }];
    let page = html::Page {
        title: "escape".into(),
        sections: vec![html::Section {
            heading: "<i>heading</i>".into(),
            sequence: Some(html::sequence::view(
                &steps,
                Some(0),
                Params::default(),
                Profile::default().choices,
            )),
            ..html::Section::default()
        }],
        ..html::Page::default()
    };
    let out = html::render(&page).unwrap();
    assert!(!out.contains("<script>alert"));
    assert!(!out.contains("<img src=x"));
    assert!(!out.contains("<b>bold"));
    assert!(!out.contains("<i>heading"));
    assert!(out.contains("&lt;script&gt;"));
}

#[test]
fn a_long_trace_folds_its_passing_stretches_but_keeps_every_step() {
    let ops: Vec<Op> = (0..500)
        .map(|i| Op::Register {
            user: format!("user{i}").into(),
            password: "correct horse battery".into(),
            mfa: false,
        })
        .collect();
    let steps: Vec<_> = ops
        .into_iter()
        .map(|op| html::sequence::StepInput {
            op,
            expected: "registered".into(),
            actual: Some("registered".into()),
        })
        .collect();
    let view = html::sequence::view(
        &steps,
        Some(400),
        Params::default(),
        Profile::default().choices,
    );
    let page = html::Page {
        sections: vec![html::Section {
            sequence: Some(view),
            ..html::Section::default()
        }],
        ..html::Page::default()
    };
    let out = html::render(&page).unwrap();
    assert_eq!(count(&out, "<tr class=\"step"), 500);
    assert_eq!(count(&out, "<details class=\"folded\">"), 2);
    assert!(out.contains("steps 4–397: 394 steps where service and model agree"));
}

#[test]
fn a_fuzz_summary_charts_each_target() {
    let log = "#2\tINITED cov: 10 ft: 10 corp: 3/30b exec/s: 0 rss: 30Mb\n\
               #4096\tpulse  cov: 20 ft: 25 corp: 5/50b lim: 4 exec/s: 2048 rss: 31Mb\n\
               stat::average_exec_per_sec:     2100\n";
    let target = html::fuzz::target("lockstep", &html::fuzz::parse(log));
    let out = html::render(&html::Page {
        fuzz: vec![target],
        ..html::Page::default()
    })
    .unwrap();
    assert_eq!(count(&out, "<polyline"), 3);
    assert!(out.contains("<td>2100</td>"));
    assert!(out.contains("<td>3 → 5</td>"));
}

/// Every report in Chromium (headless, Debian's package) through tests/browser/check-report.mjs.
#[test]
#[ignore = "needs chromium and tests/browser/node_modules; .ci/run installs both and runs it"]
fn every_report_renders_in_headless_chromium() {
    let dir = out_dir();
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut manifest = Vec::new();
    let mut add = |name: &str, html: String, expect: serde_json::Value| {
        let file = dir.join(format!("{name}.html"));
        std::fs::write(&file, html).unwrap();
        manifest.push(serde_json::json!({
            "file": file, "screenshot": shots.join(format!("{name}.png")), "expect": expect,
        }));
    };
    add(
        "passing",
        passing(),
        serde_json::json!({ "verdict": "no divergence", "matrix": true, "steps": 0 }),
    );
    let (html, steps, divergent) = sequential_failure();
    add(
        "sequential-failure",
        html,
        serde_json::json!({ "verdict": "DIVERGENCE", "steps": steps, "divergent": divergent, "matrix": true }),
    );
    #[cfg(feature = "flaws")]
    {
        let (html, bars) = concurrent_failure();
        add(
            "concurrent-failure",
            html,
            serde_json::json!({ "verdict": "NOT LINEARIZABLE", "timeline_bars": bars, "dead_ends": true }),
        );
        add(
            "flaws",
            flaw_table(&dir),
            serde_json::json!({ "table_rows": auth::flaws::Flaw::ALL.len() }),
        );
    }
    let manifest_file = dir.join("manifest.json");
    std::fs::write(
        &manifest_file,
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let status = std::process::Command::new("node")
        .arg(browser_dir.join("check-report.mjs"))
        .arg(&manifest_file)
        .current_dir(&browser_dir)
        .status()
        .expect("node runs");
    assert!(status.success(), "the browser check failed (see above)");
}

#[cfg(feature = "flaws")]
fn concurrent_failure() -> (String, usize) {
    let opts = CheckOptions {
        cases: 100,
        seed: 2,
        target: Target::Flawed(
            authcheck::driver::StoreKind::Memory,
            auth::flaws::Flaw::RefreshRace,
        ),
        mix: Mix::Concurrent,
        ..CheckOptions::default()
    };
    let summary = campaign::check(&opts, |_| {});
    let Some(Finding::Concurrent(f)) = &summary.failure else {
        panic!("refresh-race was not caught");
    };
    let bars = match &f.result {
        authcheck::concurrent::CaseResult::NotLinearizable { events, .. } => events.len(),
        other => panic!("{other:?}"),
    };
    let html = html::render(&html::check_page(&opts, &summary, Some("x.trace"))).unwrap();
    (html, bars)
}

/// The flaw table as `authcheck flaws --report` writes it.
#[cfg(feature = "flaws")]
fn flaw_table(dir: &Path) -> String {
    let file = dir.join("flaws-cli.html");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_authcheck"))
        .args(["flaws", "--seeds", "1", "--no-peer", "--report"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read_to_string(file).unwrap()
}
