//! The `authcheck` commands, one file each; `main.rs` parses the command line and dispatches.
//!
//! | file | command |
//! |---|---|
//! | [`target`] | the `--target` / `--store` / `--flaw` options every command shares |
//! | [`check`] | `check`: a campaign, its report, the minimal trace of what it found; `upgrade`: the same over two builds |
//! | [`replay`] | `replay` and `shrink` of trace files |
//! | [`promote`] | `promote`: a fuzzer artifact or a trace into a numbered regression |
//! | [`flaws`] | `flaws`: the flaw catalogue (PROTOCOL.md §10) as a detection table |
//! | [`merge`] | `merge`: the JSON summaries of sharded runs, added up |
//! | [`probe`] | `probe`: model-checked flows against a live service, with metrics |
//! | [`fuzz_report`] | `fuzz-report`: the nightly fuzz run's libFuzzer logs as an HTML page |

pub mod check;
pub mod flaws;
pub mod fuzz_report;
pub mod merge;
pub mod probe;
pub mod promote;
pub mod replay;
pub mod target;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Why a command could not run (exit status 2); a divergence is not an error (exit status 1).
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// An option or argument that does not make sense.
    Usage(String),
    /// A file that could not be read or written.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A trace file that does not parse (the message names the line).
    Trace { path: PathBuf, error: String },
    /// The system under test could not be started or driven.
    Driver(authcheck::driver::DriverError),
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Usage(m) => f.write_str(m),
            CliError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            CliError::Trace { path, error } => write!(f, "{}: {error}", path.display()),
            CliError::Driver(e) => write!(f, "{e}"),
        }
    }
}

impl From<authcheck::driver::DriverError> for CliError {
    fn from(e: authcheck::driver::DriverError) -> Self {
        CliError::Driver(e)
    }
}

pub type CliResult = Result<ExitCode, CliError>;

/// Writes the HTML report of a run (`--report FILE.html`) and says where.
pub fn write_report(page: &authcheck::html::Page, path: &Path) -> Result<(), CliError> {
    let html = authcheck::html::render(page).map_err(CliError::Usage)?;
    write(path, &html)?;
    println!("report: {}", path.display());
    Ok(())
}

/// Exit status 0 when nothing failed, 1 otherwise.
pub fn verdict(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|error| CliError::Io {
        path: path.to_owned(),
        error,
    })
}

pub fn write(path: &Path, text: &str) -> Result<(), CliError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|error| CliError::Io {
            path: dir.to_owned(),
            error,
        })?;
    }
    std::fs::write(path, text).map_err(|error| CliError::Io {
        path: path.to_owned(),
        error,
    })
}

pub fn read_trace(path: &Path) -> Result<authcheck::trace::Trace, CliError> {
    let bytes = read(path)?;
    let text = String::from_utf8(bytes).map_err(|_| CliError::Trace {
        path: path.to_owned(),
        error: "not UTF-8 text".into(),
    })?;
    authcheck::trace::Trace::parse(&text).map_err(|e| CliError::Trace {
        path: path.to_owned(),
        error: e.to_string(),
    })
}

/// A campaign seed when none is given (printed, so the run can be repeated).
pub fn seed_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
