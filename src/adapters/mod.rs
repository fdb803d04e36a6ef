//! The adapters this repository ships, on the seam of [`crate::adapter`]:
//!
//! | file | service |
//! |---|---|
//! | [`in_process`] | `auth::Service` in this process: either store, a manual clock, a seeded RNG, seeded interleavings, the flaw catalogue |
//! | [`http`] | the HTTP API of docs/PROTOCOL.md: an `auth-server` we start (test hooks, wiremock as the OTP provider), or any running server as a black box; and [`http::upgrade`], two builds over one store (`authcheck upgrade`) |
//! | [`dot`] | django-oauth-toolkit, a server nobody here wrote (`targets/django-oauth-toolkit/`) |

pub mod dot;
pub mod http;
pub mod in_process;
