//! The two sides of `authcheck upgrade --from OLD --to NEW`, resolved to commands: each side is
//! either a server command line (`target/debug/auth-server --flaw session-cache`) or a git
//! revision of this repository (`rev:v0.3.0`, `rev:HEAD~2 --flaw …`), built once in a detached
//! worktree and cached by commit under `target/authcheck-builds/`.

use super::server::ServerCommand;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `spec` as a command to start one build with.
pub fn resolve(spec: &str) -> Result<ServerCommand, String> {
    let mut words = spec.split_whitespace();
    let first = words
        .next()
        .ok_or_else(|| "an empty build: give a server command line or rev:REVISION".to_owned())?;
    let args: Vec<String> = words.map(str::to_owned).collect();
    match first.strip_prefix("rev:") {
        Some(revision) => {
            let flaws = args
                .iter()
                .any(|a| a == "--flaw" || a.starts_with("--flaw="));
            Ok(ServerCommand {
                program: built_at(revision, flaws)?,
                args,
            })
        }
        None => Ok(ServerCommand {
            program: program(first)?,
            args,
        }),
    }
}

/// A program named on the command line: a path to a file, or a name found on `PATH` (checked
/// here, so a typo is a usage error rather than a failing first case).
fn program(name: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(name);
    if name.contains(std::path::MAIN_SEPARATOR) {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{name}: no such file"))
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| format!("{name}: not found on PATH"))
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The `auth-server` of `revision` (with the flaw catalogue when `flaws`), built if it is not
/// in the cache yet.
fn built_at(revision: &str, flaws: bool) -> Result<PathBuf, String> {
    let here = std::env::current_dir().map_err(|e| e.to_string())?;
    let repo = PathBuf::from(git(&here, &["rev-parse", "--show-toplevel"])?);
    let commit = git(
        &repo,
        &["rev-parse", "--verify", &format!("{revision}^{{commit}}")],
    )?;
    let builds = repo.join("target/authcheck-builds");
    let name = if flaws {
        format!("{commit}-flaws")
    } else {
        commit.clone()
    };
    let binary = builds.join(&name).join("auth-server");
    if binary.is_file() {
        return Ok(binary);
    }
    eprintln!(
        "building auth-server at {revision} ({commit}) once; cached in {}",
        builds.display()
    );
    let worktree = builds.join(format!("worktree-{name}"));
    if worktree.exists() {
        let _ = git(
            &repo,
            &["worktree", "remove", "--force", &worktree.to_string_lossy()],
        );
    }
    git(
        &repo,
        &[
            "worktree",
            "add",
            "--detach",
            &worktree.to_string_lossy(),
            &commit,
        ],
    )?;
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo.args(["build", "-q", "-p", "auth", "--bin", "auth-server"]);
    if flaws {
        cargo.args(["--features", "flaws"]);
    }
    // One target dir for every revision: dependencies build once.
    let target_dir = builds.join("target");
    let status = cargo
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(&worktree)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"));
    let _ = git(
        &repo,
        &["worktree", "remove", "--force", &worktree.to_string_lossy()],
    );
    if !status?.success() {
        return Err(format!("building auth-server at {revision} failed"));
    }
    std::fs::create_dir_all(builds.join(&name)).map_err(|e| e.to_string())?;
    std::fs::copy(target_dir.join("debug/auth-server"), &binary)
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    Ok(binary)
}
