//! The SQLite store (rusqlite, bundled). One connection behind a mutex; every [`Tx`] is a
//! `BEGIN IMMEDIATE … COMMIT` that rolls back when dropped uncommitted. Opening a database brings
//! its schema forward with the expand halves of the migrations (see [`super::migrations`]);
//! [`SqliteStore::finalize_schema`] runs the contract halves once no older build is left.

use super::crash::CrashPoint;
use super::migrations::{self, Migration};
use super::{AccessRecord, Account, Challenge, RefreshRecord, Session, Store, StoreResult, Tx};
use crate::config::Protocol;
use crate::error::StoreError;
use crate::tokens::TokenHash;
use crate::Aal;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

pub struct SqliteStore {
    conn: Mutex<Connection>,
    layout: Layout,
    crash: Option<CrashPoint>,
}

/// This build's schema: its migrations, and where it keeps refresh tokens.
#[derive(Clone, Copy)]
struct Layout {
    migrations: &'static [Migration],
    refresh_table: &'static str,
}

const LAYOUT: Layout = Layout {
    migrations: migrations::MIGRATIONS,
    refresh_table: "refresh_tokens",
};

impl SqliteStore {
    /// Opens (creating if needed) a database file and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        Self::open_with(path, LAYOUT)
    }

    /// [`SqliteStore::open`] for a build with `flaw` switched on, if any (only
    /// `refresh-table-moved` changes the schema).
    #[cfg(feature = "flaws")]
    pub fn open_flawed(
        path: impl AsRef<Path>,
        flaw: Option<crate::flaws::Flaw>,
    ) -> StoreResult<Self> {
        let layout = match flaw {
            Some(crate::flaws::Flaw::RefreshTableMoved) => Layout {
                migrations: migrations::MIGRATIONS_REFRESH_TABLE_MOVED,
                refresh_table: "refresh_tokens_v2",
            },
            _ => LAYOUT,
        };
        Self::open_with(path, layout)
    }

    /// Kills the process at the commit `crash` is armed for (test hooks only).
    pub fn with_crash_point(mut self, crash: CrashPoint) -> Self {
        self.crash = Some(crash);
        self
    }

    fn open_with(path: impl AsRef<Path>, layout: Layout) -> StoreResult<Self> {
        let conn = Connection::open(path)?;
        // WAL with synchronous=FULL: a committed transaction survives a crash or power loss.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Self::from_connection(conn, layout)
    }

    /// A private in-memory database (`:memory:`), for tests of the SQL itself.
    pub fn open_in_memory() -> StoreResult<Self> {
        Self::from_connection(Connection::open_in_memory()?, LAYOUT)
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> StoreResult<usize> {
        Ok(self.schema()?.version)
    }

    /// The open database's schema: its version and the oldest build that can still read it.
    pub fn schema(&self) -> StoreResult<migrations::SchemaState> {
        migrations::state(&self.lock())
    }

    /// The contract step of an upgrade: runs the pending contract halves of the migrations and
    /// records that builds older than this one can no longer open the database. Run it once
    /// every instance runs this build; after it, a rollback is refused (not misread).
    pub fn finalize_schema(&self) -> StoreResult<migrations::SchemaState> {
        migrations::finalize(&mut self.lock(), self.layout.migrations)
    }

    fn from_connection(mut conn: Connection, layout: Layout) -> StoreResult<Self> {
        migrations::migrate(&mut conn, layout.migrations)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            layout,
            crash: None,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-transaction rolled back (SqliteTx::drop) before the lock was released.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for SqliteStore {
    fn begin(&self) -> StoreResult<Box<dyn Tx + '_>> {
        let conn = self.lock();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Box::new(SqliteTx {
            conn,
            finished: false,
            refresh_table: self.layout.refresh_table,
            crash: self.crash.as_ref(),
        }))
    }
}

struct SqliteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    finished: bool,
    refresh_table: &'static str,
    crash: Option<&'a CrashPoint>,
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if !self.finished {
            // Nothing to report to: the caller already has (or is unwinding with) an error.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn aal_from(n: i64) -> Aal {
    if n >= 2 {
        Aal::Aal2
    } else {
        Aal::Aal1
    }
}

fn aal_to(aal: Aal) -> i64 {
    match aal {
        Aal::Aal1 => 1,
        Aal::Aal2 => 2,
    }
}

fn format_from(s: String) -> Protocol {
    if s == "v2" {
        Protocol::V2
    } else {
        Protocol::V1
    }
}

fn to_i64(n: u64) -> i64 {
    // Times and counters past i64::MAX are clamped: only a clock set to the far future reaches
    // them, and clamping keeps every comparison on the right side.
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

const SESSION_COLUMNS: &str = "id, username, device, aal, created_at, auth_time, last_active, \
                               generation, rotated_at, token_format, access_epoch, revoked";

fn session_from_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        username: r.get(1)?,
        device: r.get(2)?,
        aal: aal_from(r.get(3)?),
        created_at: to_u64(r.get(4)?),
        auth_time: to_u64(r.get(5)?),
        last_active: to_u64(r.get(6)?),
        generation: to_u64(r.get(7)?),
        rotated_at: r.get::<_, Option<i64>>(8)?.map(to_u64),
        token_format: format_from(r.get(9)?),
        access_epoch: to_u64(r.get(10)?),
        revoked: r.get(11)?,
    })
}

fn challenge_from_row(r: &Row<'_>) -> rusqlite::Result<Challenge> {
    Ok(Challenge {
        username: r.get(0)?,
        upstream_ref: r.get(1)?,
        created_at: to_u64(r.get(2)?),
        attempts: r.get(3)?,
        dead: r.get(4)?,
    })
}

impl Tx for SqliteTx<'_> {
    fn meta(&mut self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    fn put_meta(&mut self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
            .execute(params![key, value])?;
        Ok(())
    }

    fn account(&mut self, username: &str) -> StoreResult<Option<Account>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT username, password_hash, mfa_destination, disabled, failed_logins, \
                 locked_until FROM accounts WHERE username = ?1",
            )?
            .query_row([username], |r| {
                Ok(Account {
                    username: r.get(0)?,
                    password_hash: r.get(1)?,
                    mfa_destination: r.get(2)?,
                    disabled: r.get(3)?,
                    failed_logins: r.get(4)?,
                    locked_until: r.get::<_, Option<i64>>(5)?.map(to_u64),
                })
            })
            .optional()?)
    }

    fn put_account(&mut self, a: &Account) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO accounts (username, password_hash, mfa_destination, \
                 disabled, failed_logins, locked_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                a.username,
                a.password_hash,
                a.mfa_destination,
                a.disabled,
                a.failed_logins,
                a.locked_until.map(to_i64)
            ])?;
        Ok(())
    }

    fn session(&mut self, id: &str) -> StoreResult<Option<Session>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
            ))?
            .query_row([id], session_from_row)
            .optional()?)
    }

    fn put_session(&mut self, s: &Session) -> StoreResult<()> {
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO sessions ({SESSION_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
                 ON CONFLICT (id) DO UPDATE SET username = excluded.username, \
                 device = excluded.device, aal = excluded.aal, created_at = excluded.created_at, \
                 auth_time = excluded.auth_time, last_active = excluded.last_active, \
                 generation = excluded.generation, rotated_at = excluded.rotated_at, \
                 token_format = excluded.token_format, access_epoch = excluded.access_epoch, \
                 revoked = excluded.revoked"
            ))?
            .execute(params![
                s.id,
                s.username,
                s.device,
                aal_to(s.aal),
                to_i64(s.created_at),
                to_i64(s.auth_time),
                to_i64(s.last_active),
                to_i64(s.generation),
                s.rotated_at.map(to_i64),
                s.token_format.to_string(),
                to_i64(s.access_epoch),
                s.revoked
            ])?;
        Ok(())
    }

    fn sessions_of(&mut self, username: &str) -> StoreResult<Vec<Session>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE username = ?1 ORDER BY seq"
        ))?;
        let rows = stmt.query_map([username], session_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn refresh_token(&mut self, digest: &TokenHash) -> StoreResult<Option<RefreshRecord>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT session_id, generation FROM {} WHERE digest = ?1",
                self.refresh_table
            ))?
            .query_row([&digest[..]], |r| {
                Ok(RefreshRecord {
                    session_id: r.get(0)?,
                    generation: to_u64(r.get(1)?),
                })
            })
            .optional()?)
    }

    fn put_refresh_token(&mut self, digest: &TokenHash, rec: &RefreshRecord) -> StoreResult<()> {
        self.conn
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO {} (digest, session_id, generation) VALUES (?1, ?2, ?3)",
                self.refresh_table
            ))?
            .execute(params![&digest[..], rec.session_id, to_i64(rec.generation)])?;
        Ok(())
    }

    fn access_token(&mut self, digest: &TokenHash) -> StoreResult<Option<AccessRecord>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT session_id, issued_at, epoch FROM access_tokens WHERE digest = ?1",
            )?
            .query_row([&digest[..]], |r| {
                Ok(AccessRecord {
                    session_id: r.get(0)?,
                    issued_at: to_u64(r.get(1)?),
                    epoch: to_u64(r.get(2)?),
                })
            })
            .optional()?)
    }

    fn put_access_token(&mut self, digest: &TokenHash, rec: &AccessRecord) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO access_tokens (digest, session_id, issued_at, epoch) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                &digest[..],
                rec.session_id,
                to_i64(rec.issued_at),
                to_i64(rec.epoch)
            ])?;
        Ok(())
    }

    fn challenge(&mut self, digest: &TokenHash) -> StoreResult<Option<Challenge>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT username, upstream_ref, created_at, attempts, dead FROM challenges \
                 WHERE digest = ?1",
            )?
            .query_row([&digest[..]], challenge_from_row)
            .optional()?)
    }

    fn put_challenge(&mut self, digest: &TokenHash, c: &Challenge) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO challenges (digest, username, upstream_ref, created_at, \
                 attempts, dead) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                &digest[..],
                c.username,
                c.upstream_ref,
                to_i64(c.created_at),
                c.attempts,
                c.dead
            ])?;
        Ok(())
    }

    fn challenges_of(&mut self, username: &str) -> StoreResult<Vec<(TokenHash, Challenge)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT username, upstream_ref, created_at, attempts, dead, digest FROM challenges \
             WHERE username = ?1",
        )?;
        let rows = stmt.query_map([username], |r| {
            let digest: Vec<u8> = r.get(5)?;
            Ok((digest, challenge_from_row(r)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (digest, challenge) = row?;
            let digest: TokenHash = digest
                .try_into()
                .map_err(|_| StoreError("challenge digest is not 32 bytes".into()))?;
            out.push((digest, challenge));
        }
        Ok(out)
    }

    fn commit(mut self: Box<Self>) -> StoreResult<()> {
        if let Some(crash) = self.crash {
            crash.before_commit();
        }
        self.conn.execute_batch("COMMIT")?;
        self.finished = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_record_their_version_and_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.db");
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            migrations::MIGRATIONS.len()
        );
        drop(store);
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(
            again.schema_version().unwrap(),
            migrations::MIGRATIONS.len()
        );
    }

    #[test]
    fn a_newer_schema_is_refused_rather_than_misread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE schema_version SET version = 999, readable_by = 999",
            [],
        )
        .unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(err.0.contains("finalized for builds"), "{err}");
    }

    #[test]
    fn an_uncommitted_transaction_leaves_no_trace() {
        let store = SqliteStore::open_in_memory().unwrap();
        {
            let mut tx = store.begin().unwrap();
            tx.put_meta("k", b"v").unwrap();
        }
        let mut tx = store.begin().unwrap();
        assert_eq!(tx.meta("k").unwrap(), None);
    }
}
