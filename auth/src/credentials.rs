//! Usernames and passwords: PRECIS preparation (RFC 8265) and argon2id hashing.
//!
//! Usernames go through the UsernameCaseMapped profile, so "Émilie" typed in NFC or NFD, in
//! full-width forms or in upper case is the same account. Passwords go through OpaqueString
//! (NFC, non-ASCII spaces mapped to ASCII space) and are then hashed with argon2id.

use crate::config::Argon2Cost;
use crate::rng::TokenRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use precis_core::profile::PrecisFastInvocation;
use precis_profiles::{OpaqueString, UsernameCaseMapped};
use rustc_hash::FxHashMap;
use std::borrow::Borrow;
use std::hash::Hash;

/// Longest canonical username we store, in bytes (PRECIS sets no limit; a store must).
pub const MAX_USERNAME_BYTES: usize = 256;
/// Password length bounds, in characters after OpaqueString preparation (PROTOCOL.md).
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// The canonical form of a username (UsernameCaseMapped enforcement), or `None` when the input
/// is empty, too long or contains code points the profile disallows.
pub fn canonical_username(input: &str) -> Option<String> {
    // Bound the work PRECIS does on hostile input before running it.
    if input.is_empty() || input.len() > 4 * MAX_USERNAME_BYTES {
        return None;
    }
    let canonical = UsernameCaseMapped::enforce(input).ok()?.into_owned();
    (!canonical.is_empty() && canonical.len() <= MAX_USERNAME_BYTES).then_some(canonical)
}

/// The prepared form of a password (OpaqueString enforcement), or `None` when it is disallowed
/// or outside 8..=128 characters.
pub fn prepared_password(input: &str) -> Option<String> {
    if input.len() > 4 * MAX_PASSWORD_CHARS {
        return None;
    }
    let prepared = OpaqueString::enforce(input).ok()?.into_owned();
    let chars = prepared.chars().count();
    (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS)
        .contains(&chars)
        .then_some(prepared)
}

/// Hashes and verifies prepared passwords with argon2id.
#[derive(Clone)]
pub struct PasswordHasherId {
    argon2: Argon2<'static>,
    /// `password-truncated`: only the first 72 bytes count (a bcrypt habit carried over).
    truncate: bool,
    /// Remember results (tests and fuzzing only: see [`PasswordHasherId::memoized`]).
    memo: bool,
}

/// Results of argon2id by their inputs: hashing is a pure function of (password, salt, cost),
/// verification of (password, stored hash). Bounded; cleared when full. The two-part keys are
/// nested maps so that a lookup borrows its key instead of building one, and every map hashes
/// with rustc-hash: the memo sits on every login of a fuzzed service. (Its keys come from tests
/// and fuzzers, not from clients, so a hash without flooding resistance is fine here.)
#[derive(Default)]
struct Memo {
    /// By password material, then salt.
    hashes: Nested<Vec<u8>, [u8; 16], String>,
    /// By the stored hash, then the raw password typed (preparation included).
    verdicts: Nested<String, String, bool>,
    /// PRECIS preparation of passwords and usernames, by raw input.
    prepared: FxHashMap<String, Option<String>>,
    canonical: FxHashMap<String, Option<String>>,
}

/// Entries a memo map holds before it is cleared.
const MEMO_LIMIT: usize = 65_536;

fn memo() -> std::sync::MutexGuard<'static, Memo> {
    static MEMO: std::sync::OnceLock<std::sync::Mutex<Memo>> = std::sync::OnceLock::new();
    MEMO.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// A map keyed by two values, looked up by borrowed parts of both.
struct Nested<K1, K2, V> {
    outer: FxHashMap<K1, FxHashMap<K2, V>>,
    len: usize,
}

impl<K1, K2, V> Default for Nested<K1, K2, V> {
    fn default() -> Self {
        Nested {
            outer: FxHashMap::default(),
            len: 0,
        }
    }
}

impl<K1: Hash + Eq, K2: Hash + Eq, V> Nested<K1, K2, V> {
    fn get<Q1, Q2>(&self, k1: &Q1, k2: &Q2) -> Option<&V>
    where
        K1: Borrow<Q1>,
        K2: Borrow<Q2>,
        Q1: Hash + Eq + ?Sized,
        Q2: Hash + Eq + ?Sized,
    {
        self.outer.get(k1)?.get(k2)
    }

    /// Remembers `value`, forgetting everything first when [`MEMO_LIMIT`] entries are held.
    fn insert(&mut self, k1: K1, k2: K2, value: V) {
        if self.len >= MEMO_LIMIT {
            self.outer.clear();
            self.len = 0;
        }
        if self
            .outer
            .entry(k1)
            .or_default()
            .insert(k2, value)
            .is_none()
        {
            self.len += 1;
        }
    }
}

impl PasswordHasherId {
    pub fn new(cost: Argon2Cost) -> Self {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            // Invalid costs come from configuration; fall back to the library's safe default
            // rather than hashing with a broken parameter set.
            .unwrap_or_default();
        PasswordHasherId {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            truncate: false,
            memo: false,
        }
    }

    /// Remembers every hash and verdict it computes, process-wide, so the same password with
    /// the same salt (or against the same stored hash) is computed once. Answers do not change —
    /// argon2id is a pure function — but the time an answer takes does, and passwords stay in
    /// memory: for test and fuzzing services only (`Config::memoize_hashes`), never a server.
    pub fn memoized(mut self) -> Self {
        self.memo = true;
        self
    }

    /// `password-truncated` (flaw catalogue): compare passwords on their first 72 bytes only.
    #[cfg(feature = "flaws")]
    pub fn truncating(mut self) -> Self {
        self.truncate = true;
        self
    }

    fn material<'a>(&self, prepared: &'a str) -> &'a [u8] {
        let bytes = prepared.as_bytes();
        if self.truncate {
            &bytes[..bytes.len().min(72)]
        } else {
            bytes
        }
    }

    /// A PHC string (`$argon2id$v=19$m=…`) with a salt drawn from `rng`.
    pub fn hash(&self, prepared: &str, rng: &TokenRng) -> String {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        if !self.memo {
            return self.hash_with(prepared, &salt);
        }
        let material = self.material(prepared);
        if let Some(hash) = memo().hashes.get(material, &salt) {
            return hash.clone();
        }
        let hash = self.hash_with(prepared, &salt);
        memo().hashes.insert(material.to_vec(), salt, hash.clone());
        hash
    }

    fn hash_with(&self, prepared: &str, salt: &[u8; 16]) -> String {
        let hashed = SaltString::encode_b64(salt).ok().and_then(|salt| {
            self.argon2
                .hash_password(self.material(prepared), &salt)
                .ok()
                .map(|h| h.to_string())
        });
        match hashed {
            Some(hash) => hash,
            // Unreachable with a 16-byte salt and validated params; an unusable hash fails
            // closed (nobody can log in with it) instead of panicking.
            None => String::from("!unusable"),
        }
    }

    /// Constant-time verification (inside argon2) of a raw password against a stored hash.
    /// The raw input is prepared first; input PRECIS refuses simply does not match.
    pub fn verify(&self, raw_password: &str, stored: &str) -> bool {
        if !self.memo {
            return self.verify_raw(raw_password, stored);
        }
        if let Some(verdict) = memo().verdicts.get(stored, raw_password) {
            return *verdict;
        }
        let verdict = self.verify_raw(raw_password, stored);
        memo()
            .verdicts
            .insert(stored.to_owned(), raw_password.to_owned(), verdict);
        verdict
    }

    fn verify_raw(&self, raw_password: &str, stored: &str) -> bool {
        let Some(prepared) = self.prepare(raw_password) else {
            // Spend the same work as a real verification so timing does not tell.
            self.burn(stored);
            return false;
        };
        self.verify_prepared(&prepared, stored)
    }

    /// [`prepared_password`], remembered when memoizing.
    pub fn prepare(&self, raw_password: &str) -> Option<String> {
        if !self.memo {
            return prepared_password(raw_password);
        }
        if let Some(p) = memo().prepared.get(raw_password) {
            return p.clone();
        }
        let p = prepared_password(raw_password);
        let mut m = memo();
        if m.prepared.len() >= MEMO_LIMIT {
            m.prepared.clear();
        }
        m.prepared.insert(raw_password.to_owned(), p.clone());
        p
    }

    /// [`canonical_username`], remembered when memoizing.
    pub fn canonical(&self, input: &str) -> Option<String> {
        if !self.memo {
            return canonical_username(input);
        }
        if let Some(c) = memo().canonical.get(input) {
            return c.clone();
        }
        let c = canonical_username(input);
        let mut m = memo();
        if m.canonical.len() >= MEMO_LIMIT {
            m.canonical.clear();
        }
        m.canonical.insert(input.to_owned(), c.clone());
        c
    }

    /// The hash unknown users are verified against, so that answer costs as much as a real one.
    /// Its salt is drawn like any other; a memoizing hasher uses a fixed one instead (the hash
    /// is then computed once per process), still drawing, so the token stream is the same.
    pub fn dummy_hash(&self, rng: &TokenRng) -> String {
        const DUMMY: &str = "not a password anyone has";
        if !self.memo {
            return self.hash(DUMMY, rng);
        }
        let mut drawn = [0u8; 16];
        rng.fill(&mut drawn);
        let fixed = [0x5a; 16];
        if let Some(hash) = memo().hashes.get(DUMMY.as_bytes(), &fixed) {
            return hash.clone();
        }
        let hash = self.hash_with(DUMMY, &fixed);
        memo()
            .hashes
            .insert(DUMMY.as_bytes().to_vec(), fixed, hash.clone());
        hash
    }

    fn verify_prepared(&self, prepared: &str, stored: &str) -> bool {
        match PasswordHash::new(stored) {
            Ok(parsed) => self
                .argon2
                .verify_password(self.material(prepared), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    fn burn(&self, stored: &str) {
        if self.memo {
            return; // only timing is at stake, and memoized hashers give that up anyway
        }
        if let Ok(parsed) = PasswordHash::new(stored) {
            let _ = self
                .argon2
                .verify_password(b"\0never-a-password\0", &parsed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_in_any_script_and_normal_form_are_one_account() {
        let nfc = canonical_username("\u{00C9}milie").unwrap();
        let nfd = canonical_username("E\u{0301}milie").unwrap();
        assert_eq!(nfc, nfd);
        assert_eq!(nfc, canonical_username("émilie").unwrap());
        assert_eq!(
            canonical_username("ALICE").unwrap(),
            canonical_username("alice").unwrap()
        );
        // Full-width forms map to their half-width equivalents.
        assert_eq!(canonical_username("ａｌｉｃｅ").unwrap(), "alice");
        for name in ["straße", "Öztürk", "محمد", "देवनागरी", "Ελένη", "李雷"]
        {
            assert!(
                canonical_username(name).is_some(),
                "{name} must be accepted"
            );
        }
    }

    #[test]
    fn empty_and_disallowed_usernames_are_refused() {
        for bad in [
            "",
            "with space",
            "tab\there",
            "ctl\u{0007}",
            "\u{200B}",
            "a\u{FFFF}",
        ] {
            assert_eq!(canonical_username(bad), None, "{bad:?} must be refused");
        }
        assert_eq!(
            canonical_username(&"a".repeat(MAX_USERNAME_BYTES + 1)),
            None
        );
        assert!(canonical_username(&"a".repeat(MAX_USERNAME_BYTES)).is_some());
    }

    #[test]
    fn password_length_is_counted_in_characters_after_preparation() {
        assert_eq!(prepared_password("1234567"), None);
        assert!(prepared_password("12345678").is_some());
        assert!(prepared_password(&"é".repeat(128)).is_some());
        assert_eq!(prepared_password(&"é".repeat(129)), None);
        // A non-ASCII space is mapped to an ASCII space, so both spellings are one password.
        assert_eq!(
            prepared_password("pass\u{3000}word"),
            prepared_password("pass word")
        );
    }

    #[test]
    fn argon2id_round_trip_and_rejection() {
        let hasher = PasswordHasherId::new(Argon2Cost::CHEAP);
        let rng = TokenRng::seeded(1);
        let hash = hasher.hash(&prepared_password("correct horse").unwrap(), &rng);
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse", &hash));
        assert!(!hasher.verify("correct hors", &hash));
        assert!(!hasher.verify("correct horse!", &hash));
        assert!(!hasher.verify("short", &hash));
    }

    #[test]
    fn a_memoized_hasher_answers_exactly_as_the_plain_one() {
        let plain = PasswordHasherId::new(Argon2Cost::CHEAP);
        let memo = plain.clone().memoized();
        for (password, attempt) in [
            ("correct horse", "correct horse"),
            ("correct horse", "wrong one!"),
        ] {
            let p = prepared_password(password).unwrap();
            let (a, b) = (TokenRng::seeded(7), TokenRng::seeded(7));
            let hash = plain.hash(&p, &a);
            assert_eq!(memo.hash(&p, &b), hash);
            for _ in 0..2 {
                assert_eq!(memo.verify(attempt, &hash), plain.verify(attempt, &hash));
            }
        }
    }

    #[test]
    fn the_memo_finds_both_parts_and_forgets_everything_at_its_limit() {
        let mut memo = Nested::<String, String, bool>::default();
        memo.insert("stored".into(), "typed".into(), true);
        memo.insert("stored".into(), "typed".into(), false); // the same key: no new entry
        assert_eq!(memo.get("stored", "typed"), Some(&false));
        assert_eq!(memo.get("stored", "other"), None);
        assert_eq!(memo.get("typed", "stored"), None);
        for i in 1..MEMO_LIMIT {
            memo.insert(format!("s{}", i % 7), i.to_string(), true);
        }
        assert_eq!(memo.len, MEMO_LIMIT);
        assert_eq!(memo.get("stored", "typed"), Some(&false));
        memo.insert("new".into(), "entry".into(), true);
        assert_eq!(memo.len, 1);
        assert_eq!(memo.get("stored", "typed"), None);
        assert_eq!(memo.get("new", "entry"), Some(&true));
    }

    #[test]
    fn a_long_password_is_compared_in_full() {
        let hasher = PasswordHasherId::new(Argon2Cost::CHEAP);
        let rng = TokenRng::seeded(2);
        let long = format!("{}A", "x".repeat(127));
        let hash = hasher.hash(&prepared_password(&long).unwrap(), &rng);
        assert!(!hasher.verify(&format!("{}B", "x".repeat(127)), &hash));
        assert!(hasher.verify(&long, &hash));
    }
}
