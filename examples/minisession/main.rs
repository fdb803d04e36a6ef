//! Checks minisession — a small session service with its own API and protocol choices — with
//! the harness, through its adapter: the fixed build, then the buggy one.
//!
//! ```sh
//! cargo run --example minisession            # both builds, 300 cases each
//! cargo run --example minisession -- buggy   # only the buggy one
//! ```
//! `tests/example_adapter.rs` runs the same under `cargo test`.

mod adapter;
mod service;

use adapter::MiniSession;
use authcheck::campaign::{self, CheckOptions, Mix, Target};
use authcheck::report;
use service::Variant;
use std::sync::Arc;

fn main() {
    let only = std::env::args().nth(1);
    for variant in [Variant::Fixed, Variant::Buggy] {
        if only.as_deref() == Some("buggy") && variant == Variant::Fixed {
            continue;
        }
        let opts = CheckOptions {
            cases: 300,
            seed: 1,
            target: Target::Custom(Arc::new(MiniSession { variant })),
            mix: Mix::Mixed,
            ..CheckOptions::default()
        };
        println!("{}", report::heading(&opts));
        let summary = campaign::check(&opts, |_| {});
        for line in report::totals(&summary) {
            println!("{line}");
        }
        match &summary.failure {
            None => println!("no divergence\n"),
            Some(finding) => {
                let trace = report::finding_trace(&opts, finding);
                println!(
                    "{}",
                    report::finding_text(&opts, finding, &trace, "(not written)")
                );
            }
        }
    }
}
