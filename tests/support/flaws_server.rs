//! A flaws build of auth-server (the `--flaw` flag exists only there), for the tests that run
//! real binaries with a flaw switched on: the one next to the tests if it is one (`.ci/run`
//! has just built it for `auth`'s own flaws test), else one built here.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn flaws_server_bin() -> PathBuf {
    let bin = authcheck::driver::find_server_bin().unwrap();
    if authcheck::catalogue::has_flaw_catalogue(&bin).unwrap() {
        return bin;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target_dir = root.join("target/probe-flaws-server");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "-q",
            "-p",
            "auth",
            "--features",
            "flaws",
            "--bin",
            "auth-server",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success());
    target_dir.join("debug/auth-server")
}
