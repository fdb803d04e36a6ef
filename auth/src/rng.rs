//! Where secrets come from: the operating system's CSPRNG in production, or a seeded ChaCha20
//! stream when a seed is injected, so the same seed, clock and inputs issue the same tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, RngCore, SeedableRng};
use std::sync::Mutex;

pub struct TokenRng(Source);

enum Source {
    Os,
    Seeded(Box<Mutex<ChaCha20Rng>>),
}

impl TokenRng {
    /// The operating system's CSPRNG (getrandom).
    pub fn os() -> Self {
        TokenRng(Source::Os)
    }

    /// A deterministic ChaCha20 stream: for tests, the harness and replays only.
    pub fn seeded(seed: u64) -> Self {
        TokenRng(Source::Seeded(Box::new(Mutex::new(
            ChaCha20Rng::seed_from_u64(seed),
        ))))
    }

    pub fn fill(&self, buf: &mut [u8]) {
        match &self.0 {
            Source::Os => OsRng.fill_bytes(buf),
            Source::Seeded(rng) => rng
                .lock()
                // The generator holds no invariant a panic elsewhere could break.
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .fill_bytes(buf),
        }
    }

    /// A fresh random identifier: `prefix` followed by `bytes` random bytes in base64url.
    pub fn token(&self, prefix: &str, bytes: usize) -> String {
        let mut buf = vec![0u8; bytes];
        self.fill(&mut buf);
        // Encoded straight after the prefix: a service issues several of these per login.
        let mut out = String::with_capacity(prefix.len() + bytes.div_ceil(3) * 4);
        out.push_str(prefix);
        URL_SAFE_NO_PAD.encode_string(&buf, &mut out);
        out
    }
}

impl std::fmt::Debug for TokenRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Source::Os => f.write_str("TokenRng::Os"),
            Source::Seeded(_) => f.write_str("TokenRng::Seeded"),
        }
    }
}
