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
    /// case, with test hooks and wiremock as its OTP provider), `http://HOST:PORT` (a running
    /// server, as a black box), `django-oauth-toolkit` (targets/django-oauth-toolkit), or
    /// `upgrade` (two builds over one store: `--from` and `--to`; what `authcheck upgrade` runs).
    #[arg(long, default_value = "in-process")]
    pub target: String,
    /// With `--target upgrade`: the build updated from, as a server command line
    /// (`target/debug/auth-server`) or a git revision of this repository (`rev:v1.2.0`,
    /// `rev:HEAD~3`), with its own arguments after it (`rev:HEAD --flaw session-cache`, built
    /// with the `flaws` feature).
    #[arg(long, value_name = "OLD")]
    pub from: Option<String>,
    /// With `--target upgrade`: the build updated to (as `--from`).
    #[arg(long, value_name = "NEW")]
    pub to: Option<String>,
    /// Store of the in-process target.
    #[arg(long, value_enum, default_value_t = Store::Sqlite)]
    pub store: Store,
    /// Admin token of an external server (without it, admin operations are left out).
    #[arg(long)]
    pub admin_token: Option<String>,
    /// The auth-server binary for `--target http` (default: next to authcheck, else built).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Switch on a catalogue flaw in the in-process service (build with `--features flaws`).
    #[arg(long)]
    pub flaw: Option<String>,
    /// With `--target django-oauth-toolkit`: the DOT version (a
    /// `targets/django-oauth-toolkit/requirements-VERSION.txt`).
    #[arg(long, default_value = "3.4.1")]
    pub dot_version: String,
    /// With `--target django-oauth-toolkit`: where DOT keeps its tokens, a SQLite file or a
    /// database of a private PostgreSQL cluster (row locks; needs the PostgreSQL server
    /// binaries: `apt-get install postgresql`).
    #[arg(long, value_enum, default_value = "sqlite")]
    pub dot_db: DotDb,
    /// The protocol profile (a TOML file, see `profiles/`): the numbers and the protocol
    /// choices the service makes. Default: the target's own (this repository's protocol).
    #[arg(long)]
    pub profile: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DotDb {
    Sqlite,
    Postgres,
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
    /// The `--profile` file, read (`None` without the option).
    pub fn profile(&self) -> Result<Option<authcheck::model::Profile>, CliError> {
        self.profile
            .as_deref()
            .map(authcheck::model::Profile::load)
            .transpose()
            .map_err(CliError::Usage)
    }

    /// The protocol a trace replays under: what its header records, over `--profile` (else the
    /// target's own profile).
    pub fn profile_for(
        &self,
        target: &Target,
        path: &std::path::Path,
        trace: &authcheck::trace::Trace,
    ) -> Result<authcheck::model::Profile, CliError> {
        let bad = |error: String| CliError::Trace {
            path: path.to_owned(),
            error,
        };
        let base = self
            .profile()?
            .unwrap_or_else(|| target.adapter().profile());
        trace.profile_over(base).map_err(bad)
    }

    pub fn target(&self) -> Result<Target, CliError> {
        match self.target.as_str() {
            "in-process" => match &self.flaw {
                None => Ok(Target::InProcess(self.store.into())),
                Some(id) => Ok(Target::Flawed(self.store.into(), parse_flaw(id)?)),
            },
            "http" => {
                let server_bin = match &self.server_bin {
                    Some(p) => p.clone(),
                    None => authcheck::driver::find_server_bin().map_err(CliError::Usage)?,
                };
                Ok(Target::Http(HttpTarget::Managed { server_bin }))
            }
            "django-oauth-toolkit" => Ok(Target::Custom(std::sync::Arc::new(
                authcheck::adapters::dot::DjangoOauthToolkit::new(&self.dot_version).over(
                    match self.dot_db {
                        DotDb::Sqlite => authcheck::adapters::dot::Database::Sqlite,
                        DotDb::Postgres => authcheck::adapters::dot::Database::Postgres,
                    },
                ),
            ))),
            url if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Target::Http(HttpTarget::External {
                    base: url.to_owned(),
                    admin_token: self.admin_token.clone(),
                    user_agent: None,
                }))
            }
            "upgrade" => {
                let side = |spec: &Option<String>, option: &str| {
                    let spec = spec.as_deref().ok_or_else(|| {
                        CliError::Usage(format!("--target upgrade needs {option}"))
                    })?;
                    let command = authcheck::adapters::http::builds::resolve(spec)
                        .map_err(|e| CliError::Usage(format!("{option} {spec}: {e}")))?;
                    Ok::<_, CliError>((command, spec.to_owned()))
                };
                let (from, from_words) = side(&self.from, "--from")?;
                let (to, to_words) = side(&self.to, "--to")?;
                Ok(Target::Custom(std::sync::Arc::new(
                    authcheck::adapters::http::upgrade::UpgradeTarget {
                        from,
                        to,
                        from_words,
                        to_words,
                    },
                )))
            }
            other => Err(CliError::Usage(format!(
                "--target {other}: expected in-process, http, http://HOST:PORT, django-oauth-toolkit or upgrade"
            ))),
        }
    }
}
