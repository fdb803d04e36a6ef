//! `session-cache` (an upgrade-only flaw of PROTOCOL.md §10): the new build keeps sessions in an
//! in-process read-through cache. Every write this process makes goes through the cache, so one
//! instance alone is always right; but in a mixed window another instance writes the same rows
//! (a logout, a rotation) and this one keeps serving what it cached.

use super::{AccessRecord, Account, Challenge, RefreshRecord, Session, Store, StoreResult, Tx};
use crate::tokens::TokenHash;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A store whose session reads are served from this process's memory once seen.
pub struct SessionCache {
    inner: Arc<dyn Store>,
    sessions: Arc<Mutex<HashMap<String, Session>>>,
}

impl SessionCache {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        SessionCache {
            inner,
            sessions: Arc::default(),
        }
    }
}

impl Store for SessionCache {
    fn begin(&self) -> StoreResult<Box<dyn Tx + '_>> {
        Ok(Box::new(CachedTx {
            inner: self.inner.begin()?,
            cache: &self.sessions,
            written: Vec::new(),
        }))
    }
}

struct CachedTx<'a> {
    inner: Box<dyn Tx + 'a>,
    cache: &'a Mutex<HashMap<String, Session>>,
    /// Sessions written in this transaction: into the cache when it commits.
    written: Vec<Session>,
}

impl CachedTx<'_> {
    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Tx for CachedTx<'_> {
    fn meta(&mut self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.inner.meta(key)
    }
    fn put_meta(&mut self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.inner.put_meta(key, value)
    }
    fn account(&mut self, username: &str) -> StoreResult<Option<Account>> {
        self.inner.account(username)
    }
    fn put_account(&mut self, account: &Account) -> StoreResult<()> {
        self.inner.put_account(account)
    }

    fn session(&mut self, id: &str) -> StoreResult<Option<Session>> {
        if let Some(s) = self.written.iter().rev().find(|s| s.id == id) {
            return Ok(Some(s.clone()));
        }
        if let Some(s) = self.cache().get(id) {
            return Ok(Some(s.clone()));
        }
        let found = self.inner.session(id)?;
        if let Some(s) = &found {
            self.cache().insert(s.id.clone(), s.clone());
        }
        Ok(found)
    }

    fn put_session(&mut self, session: &Session) -> StoreResult<()> {
        self.written.push(session.clone());
        self.inner.put_session(session)
    }

    fn sessions_of(&mut self, username: &str) -> StoreResult<Vec<Session>> {
        self.inner.sessions_of(username)
    }
    fn refresh_token(&mut self, digest: &TokenHash) -> StoreResult<Option<RefreshRecord>> {
        self.inner.refresh_token(digest)
    }
    fn put_refresh_token(&mut self, digest: &TokenHash, record: &RefreshRecord) -> StoreResult<()> {
        self.inner.put_refresh_token(digest, record)
    }
    fn access_token(&mut self, digest: &TokenHash) -> StoreResult<Option<AccessRecord>> {
        self.inner.access_token(digest)
    }
    fn put_access_token(&mut self, digest: &TokenHash, record: &AccessRecord) -> StoreResult<()> {
        self.inner.put_access_token(digest, record)
    }
    fn challenge(&mut self, digest: &TokenHash) -> StoreResult<Option<Challenge>> {
        self.inner.challenge(digest)
    }
    fn put_challenge(&mut self, digest: &TokenHash, challenge: &Challenge) -> StoreResult<()> {
        self.inner.put_challenge(digest, challenge)
    }
    fn challenges_of(&mut self, username: &str) -> StoreResult<Vec<(TokenHash, Challenge)>> {
        self.inner.challenges_of(username)
    }

    fn commit(self: Box<Self>) -> StoreResult<()> {
        let CachedTx {
            inner,
            cache,
            written,
        } = *self;
        inner.commit()?;
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        for s in written {
            cache.insert(s.id.clone(), s);
        }
        Ok(())
    }
}
