//! `authcheck fuzz-report`: the nightly fuzz run's libFuzzer logs as one HTML page (execs/s,
//! coverage and corpus growth per target), as `scripts/fuzz-nightly.sh` writes it.

use super::{read, verdict, CliError, CliResult};
use authcheck::html::{self, fuzz};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct FuzzReportArgs {
    /// `TARGET=LOG`: a cargo-fuzz target and its libFuzzer log (run with -print_final_stats=1).
    #[arg(required = true, value_name = "TARGET=LOG")]
    logs: Vec<String>,
    /// Where the page goes.
    #[arg(long, value_name = "FILE.html")]
    report: PathBuf,
}

pub fn run(args: FuzzReportArgs) -> CliResult {
    let mut targets = Vec::new();
    for spec in &args.logs {
        let (name, path) = spec
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("{spec}: expected TARGET=LOG")))?;
        let text = String::from_utf8_lossy(&read(std::path::Path::new(path))?).into_owned();
        targets.push(fuzz::target(name, &fuzz::parse(&text)));
    }
    let crashed = targets.iter().filter(|t| t.crashed).count();
    let page = html::Page {
        title: "authcheck nightly fuzz".to_owned(),
        passed: crashed == 0,
        verdict: if crashed == 0 {
            "no crash".to_owned()
        } else {
            format!("{crashed} targets crashed")
        },
        summary: vec![("targets".to_owned(), targets.len().to_string())],
        commands: vec![(
            "run again".to_owned(),
            "scripts/fuzz-nightly.sh [SECONDS_PER_TARGET]".to_owned(),
        )],
        fuzz: targets,
        ..html::Page::default()
    };
    super::write_report(&page, &args.report)?;
    Ok(verdict(crashed > 0))
}
