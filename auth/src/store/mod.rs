//! Persistence behind one trait, with two implementations: [`MemoryStore`] and [`SqliteStore`].
//!
//! All reads and writes happen inside a [`Tx`]: the service's check-then-act sequences (refresh
//! rotation, lockout counting, challenge attempts) read, decide and write in one transaction, so
//! two concurrent requests can never both act on the same state. A transaction dropped without
//! [`Tx::commit`] leaves no trace.

pub mod crash;
mod memory;
pub mod migrations;
#[cfg(feature = "flaws")]
pub mod session_cache;
mod sqlite;

pub use crash::CrashPoint;
pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

use crate::config::Protocol;
use crate::error::StoreError;
use crate::tokens::TokenHash;
use crate::Aal;

pub type StoreResult<T> = Result<T, StoreError>;

/// A store the service can open transactions on. Shared between service instances across
/// restarts and deploys: it holds all state, the service none.
pub trait Store: Send + Sync {
    fn begin(&self) -> StoreResult<Box<dyn Tx + '_>>;
}

/// One atomic unit of work. Writes are upserts keyed as documented on each method.
pub trait Tx {
    fn meta(&mut self, key: &str) -> StoreResult<Option<Vec<u8>>>;
    fn put_meta(&mut self, key: &str, value: &[u8]) -> StoreResult<()>;

    /// Keyed by canonical username.
    fn account(&mut self, username: &str) -> StoreResult<Option<Account>>;
    fn put_account(&mut self, account: &Account) -> StoreResult<()>;

    /// Keyed by session id.
    fn session(&mut self, id: &str) -> StoreResult<Option<Session>>;
    fn put_session(&mut self, session: &Session) -> StoreResult<()>;
    /// Every session of a user, in creation order.
    fn sessions_of(&mut self, username: &str) -> StoreResult<Vec<Session>>;

    /// Keyed by the digest of the refresh token.
    fn refresh_token(&mut self, digest: &TokenHash) -> StoreResult<Option<RefreshRecord>>;
    fn put_refresh_token(&mut self, digest: &TokenHash, record: &RefreshRecord) -> StoreResult<()>;

    /// Keyed by the digest of the access token.
    fn access_token(&mut self, digest: &TokenHash) -> StoreResult<Option<AccessRecord>>;
    fn put_access_token(&mut self, digest: &TokenHash, record: &AccessRecord) -> StoreResult<()>;

    /// Keyed by the digest of the challenge id.
    fn challenge(&mut self, digest: &TokenHash) -> StoreResult<Option<Challenge>>;
    fn put_challenge(&mut self, digest: &TokenHash, challenge: &Challenge) -> StoreResult<()>;
    /// Every challenge of a user, with its key.
    fn challenges_of(&mut self, username: &str) -> StoreResult<Vec<(TokenHash, Challenge)>>;

    fn commit(self: Box<Self>) -> StoreResult<()>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Canonical (PRECIS UsernameCaseMapped) form.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub mfa_destination: Option<String>,
    pub disabled: bool,
    /// Consecutive wrong passwords since the last success, lock or unlock.
    pub failed_logins: u32,
    /// Set while a lock is in force or until it is noticed to have lapsed.
    pub locked_until: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub username: String,
    pub device: String,
    pub aal: Aal,
    pub created_at: u64,
    pub auth_time: u64,
    pub last_active: u64,
    /// Generation of the current refresh token.
    pub generation: u64,
    /// When the current generation was made by a refresh; `None` when there is no grace for
    /// the previous generation (a new session, or a rotation by password change).
    pub rotated_at: Option<u64>,
    /// The format the current refresh token was issued in (so a grace retry returns it as is).
    pub token_format: Protocol,
    /// Access tokens issued under an older epoch are revoked (password change bumps it).
    pub access_epoch: u64,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub session_id: String,
    pub generation: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRecord {
    pub session_id: String,
    pub issued_at: u64,
    pub epoch: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub username: String,
    /// The provider's handle for the code it sent.
    pub upstream_ref: String,
    pub created_at: u64,
    /// Wrong codes so far.
    pub attempts: u32,
    /// Used, killed by too many wrong codes, or cancelled by an admin.
    pub dead: bool,
}
