//! The options that pick the system under test, shared by every command.

use super::CliError;
use authcheck::campaign::Target;
use authcheck::driver::{HttpTarget, StoreKind};
use clap::ValueEnum;
use std::path::PathBuf;

/// Which system to check.
#[derive(clap::Args, Clone)]
pub struct TargetArgs {
    /// `in-process` (auth::Service in this process), `http` (an auth-server started for each
    /// case, with test hooks and wiremock as its OTP provider), or `http://HOST:PORT` (a running
    /// server, as a black box).
    #[arg(long, default_value = "in-process")]
    pub target: String,
    /// Store of the in-process target.
    #[arg(long, value_enum, default_value_t = Store::Sqlite)]
    pub store: Store,
    /// Admin token of an external server (without it, admin operations are left out).
    #[arg(long)]
    pub admin_token: Option<String>,
    /// The auth-server binary for `--target http` (default: next to authcheck, else built).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Switch on a DESIGN §5 flaw in the in-process service (build with `--features flaws`).
    #[arg(long)]
    pub flaw: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Store {
    Sqlite,
    Memory,
}

impl From<Store> for StoreKind {
    fn from(s: Store) -> Self {
        match s {
            Store::Sqlite => StoreKind::Sqlite,
            Store::Memory => StoreKind::Memory,
        }
    }
}

#[cfg(feature = "flaws")]
fn parse_flaw(id: &str) -> Result<authcheck::driver::Flaw, CliError> {
    id.parse().map_err(CliError::Usage)
}

#[cfg(not(feature = "flaws"))]
fn parse_flaw(id: &str) -> Result<authcheck::driver::Flaw, CliError> {
    Err(CliError::Usage(format!(
        "--flaw {id}: this build has no flaws; run `cargo run --release --features flaws -- …`"
    )))
}

impl TargetArgs {
    pub fn target(&self) -> Result<Target, CliError> {
        match self.target.as_str() {
            "in-process" => match &self.flaw {
                None => Ok(Target::InProcess(self.store.into())),
                Some(id) => Ok(Target::Flawed(self.store.into(), parse_flaw(id)?)),
            },
            "http" => {
                let server_bin = match &self.server_bin {
                    Some(p) => p.clone(),
                    None => authcheck::driver::http::find_server_bin().map_err(CliError::Usage)?,
                };
                Ok(Target::Http(HttpTarget::Managed { server_bin }))
            }
            url if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Target::Http(HttpTarget::External {
                    base: url.to_owned(),
                    admin_token: self.admin_token.clone(),
                }))
            }
            other => Err(CliError::Usage(format!(
                "--target {other}: expected in-process, http or http://HOST:PORT"
            ))),
        }
    }
}
