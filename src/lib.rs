//! `authcheck`: checks a session-login service against an executable specification.
//!
//! | module | what lives there |
//! |---|---|
//! | [`model`] | the specification: a pure state machine of PROTOCOL.md (`step`) |
//! | [`generate`] | the model-aware generator: bytes → meaningful, bug-seeking op sequences |
//! | [`driver`] | systems under test behind one trait; the in-process `auth::Service` driver |
//! | [`lockstep`] | model and service side by side; the first difference is the failure |
//! | [`peer`] | the same model and driver as a `proptest-state-machine` test, for comparison |
//! | [`shrink`] | minimises a failing trace, keeping it valid under the model |
//! | [`trace`] | the line-oriented trace file format (print ∘ parse = identity) |
//! | [`coverage`] | which (op, outcome) pairs of the protocol table (PROTOCOL.md §4) a campaign reached |
//! | [`campaign`] | a seeded run of many cases, as `authcheck check` does it |
//! | [`concurrent`] | concurrent lockstep: branches, linearizability against the model |
//! | `catalogue` | the flaw catalogue (PROTOCOL.md §10) as a benchmark of the harness (`flaws` feature) |
//! | [`fuzzing`] | the entry points of the cargo-fuzz targets (also run by `cargo test`) |
//!
//! The CLI (`src/main.rs`) is a thin layer over [`campaign`], [`lockstep`] and [`shrink`].

pub mod adapter;
pub mod adapters;
pub mod campaign;
#[cfg(feature = "flaws")]
pub mod catalogue;
pub mod concurrent;
pub mod coverage;
pub mod driver;
pub mod fuzzing;
pub mod generate;
pub mod lockstep;
pub mod model;
#[cfg(feature = "flaws")]
pub mod peer;
pub mod report;
pub mod shrink;
pub mod trace;
