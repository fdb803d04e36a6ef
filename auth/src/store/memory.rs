//! The in-memory store: one mutex over plain maps. A transaction holds the lock for its whole
//! life and keeps an undo log, so dropping it without a commit restores what it changed.

use super::{AccessRecord, Account, Challenge, RefreshRecord, Session, Store, StoreResult, Tx};
use crate::tokens::TokenHash;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

/// The store's tables. Maps keyed by what a client chooses (usernames) keep std's keyed
/// SipHash, so crafted names cannot pile into one bucket; maps keyed by what the service chose
/// (its own meta keys, random session ids, SHA-256 token hashes) use FxHash, which is several
/// times cheaper on the keys every request looks up.
#[derive(Debug, Default)]
struct Tables {
    meta: FxHashMap<String, Vec<u8>>,
    accounts: HashMap<String, Account>,
    sessions: FxHashMap<String, Session>,
    /// username → (creation sequence → session id), so `sessions_of` is ordered and cheap.
    sessions_by_user: HashMap<String, BTreeMap<u64, String>>,
    session_seq: u64,
    refresh_tokens: FxHashMap<TokenHash, RefreshRecord>,
    access_tokens: FxHashMap<TokenHash, AccessRecord>,
    challenges: FxHashMap<TokenHash, Challenge>,
}

enum Undo {
    Meta(String, Option<Vec<u8>>),
    Account(String, Option<Account>),
    Session(String, Option<Session>),
    Refresh(TokenHash, Option<RefreshRecord>),
    Access(TokenHash, Option<AccessRecord>),
    Challenge(TokenHash, Option<Challenge>),
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

impl Store for MemoryStore {
    fn begin(&self) -> StoreResult<Box<dyn Tx + '_>> {
        let tables = self
            .tables
            .lock()
            // A panic inside a transaction was rolled back by the undo log before unwinding
            // released the lock, so the data behind a poisoned mutex is consistent.
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(Box::new(MemoryTx {
            tables,
            // No room until the first write (its growth makes room for four): most
            // transactions only read.
            undo: Vec::new(),
        }))
    }
}

struct MemoryTx<'a> {
    tables: MutexGuard<'a, Tables>,
    undo: Vec<Undo>,
}

impl Drop for MemoryTx<'_> {
    fn drop(&mut self) {
        while let Some(entry) = self.undo.pop() {
            let t = &mut *self.tables;
            match entry {
                Undo::Meta(k, v) => restore(&mut t.meta, k, v),
                Undo::Account(k, v) => restore(&mut t.accounts, k, v),
                Undo::Session(k, v) => {
                    if v.is_none() {
                        if let Some(s) = t.sessions.get(&k) {
                            if let Some(index) = t.sessions_by_user.get_mut(&s.username) {
                                index.retain(|_, id| *id != k);
                            }
                        }
                    }
                    restore(&mut t.sessions, k, v)
                }
                Undo::Refresh(k, v) => restore(&mut t.refresh_tokens, k, v),
                Undo::Access(k, v) => restore(&mut t.access_tokens, k, v),
                Undo::Challenge(k, v) => restore(&mut t.challenges, k, v),
            }
        }
    }
}

fn restore<K: std::hash::Hash + Eq, V, S: std::hash::BuildHasher>(
    map: &mut HashMap<K, V, S>,
    key: K,
    old: Option<V>,
) {
    match old {
        Some(v) => map.insert(key, v),
        None => map.remove(&key),
    };
}

impl Tx for MemoryTx<'_> {
    fn meta(&mut self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.tables.meta.get(key).cloned())
    }

    fn put_meta(&mut self, key: &str, value: &[u8]) -> StoreResult<()> {
        let old = self.tables.meta.insert(key.to_owned(), value.to_vec());
        self.undo.push(Undo::Meta(key.to_owned(), old));
        Ok(())
    }

    fn account(&mut self, username: &str) -> StoreResult<Option<Account>> {
        Ok(self.tables.accounts.get(username).cloned())
    }

    fn put_account(&mut self, account: &Account) -> StoreResult<()> {
        // An update (the common case: logins count and clear failures) overwrites the record in
        // place and keys its undo entry with the one copy of the name it needs.
        let accounts = &mut self.tables.accounts;
        let old = match accounts.get_mut(&account.username) {
            Some(record) => Some(std::mem::replace(record, account.clone())),
            None => accounts.insert(account.username.clone(), account.clone()),
        };
        self.undo.push(Undo::Account(account.username.clone(), old));
        Ok(())
    }

    fn session(&mut self, id: &str) -> StoreResult<Option<Session>> {
        Ok(self.tables.sessions.get(id).cloned())
    }

    fn put_session(&mut self, session: &Session) -> StoreResult<()> {
        let t = &mut *self.tables;
        let old = t.sessions.insert(session.id.clone(), session.clone());
        if old.is_none() {
            t.session_seq += 1;
            t.sessions_by_user
                .entry(session.username.clone())
                .or_default()
                .insert(t.session_seq, session.id.clone());
        }
        self.undo.push(Undo::Session(session.id.clone(), old));
        Ok(())
    }

    fn sessions_of(&mut self, username: &str) -> StoreResult<Vec<Session>> {
        let t = &*self.tables;
        Ok(t.sessions_by_user
            .get(username)
            .into_iter()
            .flat_map(|ids| ids.values())
            .filter_map(|id| t.sessions.get(id).cloned())
            .collect())
    }

    fn refresh_token(&mut self, digest: &TokenHash) -> StoreResult<Option<RefreshRecord>> {
        Ok(self.tables.refresh_tokens.get(digest).cloned())
    }

    fn put_refresh_token(&mut self, digest: &TokenHash, record: &RefreshRecord) -> StoreResult<()> {
        let old = self.tables.refresh_tokens.insert(*digest, record.clone());
        self.undo.push(Undo::Refresh(*digest, old));
        Ok(())
    }

    fn access_token(&mut self, digest: &TokenHash) -> StoreResult<Option<AccessRecord>> {
        Ok(self.tables.access_tokens.get(digest).cloned())
    }

    fn put_access_token(&mut self, digest: &TokenHash, record: &AccessRecord) -> StoreResult<()> {
        let old = self.tables.access_tokens.insert(*digest, record.clone());
        self.undo.push(Undo::Access(*digest, old));
        Ok(())
    }

    fn challenge(&mut self, digest: &TokenHash) -> StoreResult<Option<Challenge>> {
        Ok(self.tables.challenges.get(digest).cloned())
    }

    fn put_challenge(&mut self, digest: &TokenHash, challenge: &Challenge) -> StoreResult<()> {
        let old = self.tables.challenges.insert(*digest, challenge.clone());
        self.undo.push(Undo::Challenge(*digest, old));
        Ok(())
    }

    fn challenges_of(&mut self, username: &str) -> StoreResult<Vec<(TokenHash, Challenge)>> {
        // Challenges are few and short-lived; a scan is fine.
        Ok(self
            .tables
            .challenges
            .iter()
            .filter(|(_, c)| c.username == username)
            .map(|(k, c)| (*k, c.clone()))
            .collect())
    }

    fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.undo.clear();
        Ok(())
    }
}
