//! The self-contained HTML report of a run (`--report FILE.html` on `check`, `replay` and
//! `flaws`): the summary with the command that replays it, each failing trace as a sequence
//! diagram, concurrent histories as a timeline, the model coverage matrix, and tables. One file,
//! no network: the style is inlined, the charts are inline SVG, there is no script.

pub mod coverage;
pub mod fuzz;
pub mod sequence;
pub mod timeline;

use crate::campaign::{CheckOptions, Finding, Summary};
use crate::concurrent::{self, CaseResult};
use crate::model::{Op, Profile};
use crate::report;
use serde::Serialize;

const TEMPLATE: &str = include_str!("report.html");

/// One run, ready to render.
#[derive(Serialize, Debug, Default)]
pub struct Page {
    /// `authcheck check`, `authcheck replay`…
    pub title: String,
    pub passed: bool,
    pub verdict: String,
    /// (label, value) rows of the summary.
    pub summary: Vec<(String, String)>,
    /// (label, command) pairs: what re-runs or replays the run.
    pub commands: Vec<(String, String)>,
    pub sections: Vec<Section>,
    pub coverage: Option<coverage::CoverageView>,
    pub table: Option<Table>,
    /// The nightly fuzz run, one entry per cargo-fuzz target.
    pub fuzz: Vec<fuzz::FuzzTarget>,
}

/// One trace: a finding of a campaign, or one replayed file.
#[derive(Serialize, Debug, Default)]
pub struct Section {
    pub heading: String,
    pub passed: bool,
    /// What went wrong, in one sentence.
    pub finding: Option<String>,
    pub sequence: Option<sequence::SequenceView>,
    /// A concurrent case: its sequential prefix, then the timeline of the branches.
    pub prefix: Vec<String>,
    pub timeline: Option<timeline::TimelineView>,
    /// The trace file as written (what `replay` reads).
    pub trace_text: Option<String>,
}

/// A table of text cells (the flaw catalogue's detection table).
#[derive(Serialize, Debug, Default)]
pub struct Table {
    pub caption: String,
    /// Column groups over the header: (label, how many columns).
    pub groups: Vec<(String, usize)>,
    pub header: Vec<String>,
    pub rows: Vec<TableRow>,
    pub notes: Vec<String>,
}

#[derive(Serialize, Debug, Default)]
pub struct TableRow {
    pub cells: Vec<String>,
    /// A row that failed (a flaw some seed missed).
    pub bad: bool,
}

/// The HTML of `page`.
pub fn render(page: &Page) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    // The name ends in .html, so every value is HTML-escaped.
    env.add_template("report.html", TEMPLATE)
        .map_err(|e| e.to_string())?;
    let template = env.get_template("report.html").map_err(|e| e.to_string())?;
    template
        .render(minijinja::context! { page => page, version => env!("CARGO_PKG_VERSION") })
        .map_err(|e| format!("cannot render the report: {e:#}"))
}

/// The report of a `check` campaign; `trace_file` is where its finding's trace was written.
pub fn check_page(opts: &CheckOptions, summary: &Summary, trace_file: Option<&str>) -> Page {
    let seconds = summary.elapsed.as_secs_f64();
    let mut rows = vec![
        ("target".to_owned(), opts.target.args()),
        ("profile".to_owned(), profile_name(opts)),
        ("seed".to_owned(), opts.seed.to_string()),
        (
            "cases".to_owned(),
            format!(
                "{} ({} concurrent)",
                summary.cases, summary.concurrent_cases
            ),
        ),
        (
            "operations".to_owned(),
            format!(
                "{} in {seconds:.2} s ({:.0} ops/s)",
                summary.ops,
                summary.ops as f64 / seconds.max(1e-9)
            ),
        ),
        (
            "model coverage".to_owned(),
            format!(
                "{}/{} outcome pairs",
                summary.coverage.covered(),
                summary.coverage.total()
            ),
        ),
    ];
    let left_out = opts.target.capabilities().left_out();
    if !left_out.is_empty() {
        rows.push(("left out (target cannot)".to_owned(), left_out.join("; ")));
    }
    for (name, cases) in &summary.known {
        rows.push((
            "passed over as known".to_owned(),
            format!("{cases} cases diverged like {name}"),
        ));
    }
    let mut commands = Vec::new();
    let mut sections = Vec::new();
    if let Some(finding) = &summary.failure {
        if let Some(file) = trace_file {
            commands.push((
                "replay the minimal trace".to_owned(),
                format!("authcheck replay {file} {}", opts.target.args()),
            ));
        }
        commands.push((
            "re-run the case".to_owned(),
            report::rerun_command(opts, finding),
        ));
        let mut section = finding_section(finding, &opts.profile());
        section.trace_text = Some(report::finding_trace(opts, finding).to_string());
        sections.push(section);
    }
    commands.push(("run again".to_owned(), report::campaign_command(opts)));
    let passed = summary.failure.is_none();
    Page {
        title: "authcheck check".to_owned(),
        passed,
        verdict: verdict_text(passed, summary.failure.as_ref()),
        summary: rows,
        commands,
        sections,
        coverage: Some(coverage::view(&summary.coverage)),
        ..Page::default()
    }
}

fn verdict_text(passed: bool, finding: Option<&Finding>) -> String {
    match finding {
        None if passed => "no divergence".to_owned(),
        Some(Finding::Concurrent(_)) => "NOT LINEARIZABLE".to_owned(),
        _ => "DIVERGENCE".to_owned(),
    }
}

fn profile_name(opts: &CheckOptions) -> String {
    match &opts.profile_file {
        Some(file) => file.display().to_string(),
        None => "the target's own (docs/PROTOCOL.md unless its adapter says otherwise)".to_owned(),
    }
}

/// A finding of a campaign as a section: a sequence diagram, or a concurrent timeline.
pub fn finding_section(finding: &Finding, profile: &Profile) -> Section {
    match finding {
        Finding::Sequential(f) => {
            let steps: Vec<sequence::StepInput> = f
                .ops
                .iter()
                .zip(&f.expected)
                .enumerate()
                .map(|(i, (op, expected))| sequence::StepInput {
                    op: op.clone(),
                    expected: expected.to_string(),
                    actual: match i.cmp(&f.failure.step) {
                        std::cmp::Ordering::Less => Some(expected.to_string()),
                        std::cmp::Ordering::Equal => Some(f.failure.actual.to_string()),
                        std::cmp::Ordering::Greater => None,
                    }
                    // Which build answered (an upgrade's mixed window).
                    .map(|answer| match f.served_by.get(i) {
                        Some(Some(note)) => format!("{answer} ({note})"),
                        _ => answer,
                    }),
                })
                .collect();
            Section {
                heading: format!(
                    "Divergence at step {} of {} (case seed {}, shrunk from {} ops)",
                    f.failure.step + 1,
                    f.ops.len(),
                    f.case_seed,
                    f.original_len
                ),
                passed: false,
                finding: Some(format!(
                    "step {}: `{}` — the model expected `{}`, the service answered `{}`",
                    f.failure.step + 1,
                    f.failure.op,
                    f.failure.expected,
                    f.failure.actual
                )),
                sequence: Some(sequence::view(
                    &steps,
                    Some(f.failure.step),
                    f.profile.params,
                    f.profile.choices,
                )),
                ..Section::default()
            }
        }
        Finding::Concurrent(f) => {
            let mut section = concurrent_section(&f.case, &f.result, profile);
            section.heading = format!(
                "Not linearizable (case seed {}, schedule seed {}, shrunk from {} ops)",
                f.case_seed, f.schedule_seed, f.original_len
            );
            section
        }
    }
}

/// A concurrent case and what running it gave.
pub fn concurrent_section(
    case: &concurrent::Case,
    result: &CaseResult,
    profile: &Profile,
) -> Section {
    let prefix: Vec<String> = case.prefix.iter().map(Op::to_string).collect();
    match result {
        CaseResult::Pass => Section {
            heading: "Linearizable".to_owned(),
            passed: true,
            prefix,
            ..Section::default()
        },
        CaseResult::Prefix(f) => {
            // Before the failing step service and model agreed: the model's outcomes say what.
            let mut state = crate::model::State::with_choices(case.params, profile.choices);
            let steps: Vec<sequence::StepInput> = case.prefix[..=f.step]
                .iter()
                .enumerate()
                .map(|(i, op)| {
                    let expected = state.apply(op).to_string();
                    sequence::StepInput {
                        op: op.clone(),
                        actual: Some(if i == f.step {
                            f.actual.to_string()
                        } else {
                            expected.clone()
                        }),
                        expected,
                    }
                })
                .collect();
            Section {
                heading: "The sequential prefix left the model".to_owned(),
                passed: false,
                finding: Some(format!(
                    "prefix step {}: `{}` — the model expected `{}`, the service answered `{}`",
                    f.step + 1,
                    f.op,
                    f.expected,
                    f.actual
                )),
                sequence: Some(sequence::view(
                    &steps,
                    Some(f.step),
                    case.params,
                    profile.choices,
                )),
                prefix,
                ..Section::default()
            }
        }
        CaseResult::NotLinearizable { events, verdict } => Section {
            heading: "Not linearizable".to_owned(),
            passed: false,
            finding: Some(
                "no order of the concurrent operations is allowed by the model".to_owned(),
            ),
            prefix,
            timeline: Some(timeline::view(events, verdict)),
            ..Section::default()
        },
    }
}

/// Writes `page` to `path`.
pub fn write(page: &Page, path: &std::path::Path) -> Result<(), String> {
    let html = render(page)?;
    std::fs::write(path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
