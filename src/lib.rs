//! `authcheck` checks a session-login service against an executable specification of session
//! login (`docs/PROTOCOL.md`): it generates operation sequences from a pure model, runs them
//! against the service in lockstep — sequentially, concurrently, across deploys and restarts —
//! and shrinks every divergence to a minimal trace that replays with one command.
//!
//! # A tour
//!
//! To check a service you need an [`Adapter`] (see [`adapter`]: start an instance, run one
//! operation, say what the service can do and what its API can show). This crate ships two,
//! for its own reference service `auth`: in process ([`adapters::in_process`]) and over the HTTP
//! API ([`adapters::http`]); `examples/minisession` is one for a service with another API and
//! other protocol choices ([`Profile`]). Then run a campaign:
//!
//! ```
//! use authcheck::{check, CheckOptions, Target};
//!
//! // 40 generated cases against `auth` in this process (memory store), seed 7.
//! let opts = CheckOptions {
//!     cases: 40,
//!     seed: 7,
//!     target: Target::memory(),
//!     ..CheckOptions::default()
//! };
//! let summary = check(&opts, |_done| {});
//! assert_eq!(summary.cases, 40);
//! assert!(summary.failure.is_none(), "the reference service follows the protocol");
//! ```
//!
//! A [`Finding`] carries the shrunk trace; [`report`] renders it as text and JSON with the seed
//! and the command that replays it, as `authcheck check` prints it.
//!
//! # Where things live
//!
//! | module | what lives there |
//! |---|---|
//! | [`adapter`] | **the seam**: the traits a user implements for their service |
//! | [`adapters`] | the adapters this repository ships (`auth` in process, the HTTP API) |
//! | [`model`] | the specification: a pure state machine (`step`), parameterised by a [`Profile`] |
//! | [`generate`] | the model-aware generator: swarm mixes, parameter shapes, deadline- and limit-seeking moves |
//! | [`driver`] | the harness's side of the seam: handles, requests, the one answer → outcome function |
//! | [`lockstep`] | model and service side by side; the first difference is the failure |
//! | [`concurrent`] | concurrent cases: branches at once, linearizability against the model |
//! | [`shrink`] | minimises a failing trace, keeping it valid under the model |
//! | [`known`] | known findings: bugs a campaign passes over (by the shape of their divergence) to look for others |
//! | [`trace`] | the line-oriented trace file format (print ∘ parse = identity) |
//! | [`coverage`] | what a campaign reached: outcome pairs, deadlines at ±1 s, limits, races |
//! | [`campaign`] | a seeded run of many cases, as `authcheck check` does it; shards |
//! | [`shared_server`] | on a server already running, every run under user names no earlier run used |
//! | [`report`] | one report for every kind of campaign, as text and JSON |
//! | [`probe`] | `authcheck probe`: short flows against a live service on the real clock, checked against the model, with metrics |
//! | [`html`] | the same run as one self-contained HTML page: sequence diagram, timeline, coverage matrix |
//! | [`fuzzing`] | the entry points of the cargo-fuzz targets (also run by `cargo test`) |
//! | `catalogue`, `peer` | with the `flaws` feature: the flaw catalogue as a benchmark, and a proptest-state-machine peer |
//!
//! The CLI (`src/main.rs`, `src/cli/`) is a thin layer over [`campaign`] and [`report`].

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
pub mod html;
pub mod known;
pub mod lockstep;
pub mod model;
#[cfg(feature = "flaws")]
pub mod peer;
pub mod probe;
pub mod report;
pub mod shared_server;
pub mod shrink;
pub mod trace;

pub use adapter::{
    Adapter, AdapterError, Answer, Caller, Capabilities, Control, Instance, Observability, Request,
};
pub use campaign::{check, CheckOptions, Finding, Mix, Shard, Summary, Target};
pub use model::{Choices, Op, Outcome, Params, Profile};
pub use trace::Trace;
