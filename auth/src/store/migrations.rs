//! Schema migrations with expand/contract discipline, so that during a rolling upgrade the old
//! and the new build can serve over one database, and a rollback can still read what the new
//! build wrote.
//!
//! Each migration has two halves. The **expand** half only adds (tables, columns, indexes,
//! backfills): every build that could read the database before can still read it after. It runs
//! when a build opens a database older than itself. The **contract** half removes what only
//! older builds needed; it runs at [`finalize`], the step an operator takes once no instance of
//! an older build is left. The database records its `version` (migrations applied) and
//! `readable_by` (the oldest build version that can still use it): a build older than
//! `readable_by` refuses to open it with a clear error instead of serving wrong answers, and a
//! build older than `version` but not older than `readable_by` opens it as it is.

use crate::error::StoreError;
use rusqlite::{Connection, OptionalExtension};

use super::StoreResult;

/// One step of the schema.
pub struct Migration {
    /// Additive only: older builds keep working.
    pub expand: &'static str,
    /// What may break older builds (dropping or renaming what they read); at finalize.
    pub contract: Option<&'static str>,
}

/// This build's migrations. Append only: never edit a released migration.
pub const MIGRATIONS: &[Migration] = &[
    // 1: the whole protocol state.
    Migration {
        expand: SQL,
        contract: None,
    },
];

/// `refresh-table-moved` (an upgrade-only flaw): the new build moves refresh tokens to a table of
/// their own and writes only there, and calls that an expand step, so older builds still open
/// the database. They find the old table and none of the tokens the new build issued: in the
/// mixed window and after a rollback, those sessions cannot be refreshed. (The expand/contract
/// way keeps writing both tables until finalize.)
#[cfg(feature = "flaws")]
pub const MIGRATIONS_REFRESH_TABLE_MOVED: &[Migration] = &[
    Migration {
        expand: SQL,
        contract: None,
    },
    Migration {
        expand: "CREATE TABLE refresh_tokens_v2 (
                     digest BLOB PRIMARY KEY,
                     session_id TEXT NOT NULL,
                     generation INTEGER NOT NULL
                 );
                 INSERT INTO refresh_tokens_v2 SELECT digest, session_id, generation FROM refresh_tokens;",
        contract: Some("DROP TABLE refresh_tokens"),
    },
];

/// Where a database stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaState {
    /// Migrations whose expand half has run.
    pub version: usize,
    /// The oldest build (by the number of migrations it knows) that can use the database.
    pub readable_by: usize,
    /// Migrations whose contract half has run.
    pub contracted: usize,
}

fn ensure_table(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    // Databases from before expand/contract have only `version`: add the other two (an
    // addition, so the builds that wrote them still read the table).
    for column in ["readable_by", "contracted"] {
        let has: Option<String> = conn
            .query_row(
                "SELECT name FROM pragma_table_info('schema_version') WHERE name = ?1",
                [column],
                |r| r.get(0),
            )
            .optional()?;
        if has.is_none() {
            conn.execute_batch(&format!(
                "ALTER TABLE schema_version ADD COLUMN {column} INTEGER"
            ))?;
        }
    }
    Ok(())
}

/// The database's schema state (a database with none yet is at version 0).
pub fn state(conn: &Connection) -> StoreResult<SchemaState> {
    ensure_table(conn)?;
    let row: Option<(i64, Option<i64>, Option<i64>)> = conn
        .query_row(
            "SELECT version, readable_by, contracted FROM schema_version",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(match row {
        None => SchemaState {
            version: 0,
            readable_by: 0,
            contracted: 0,
        },
        // Before expand/contract every migration ran whole.
        Some((v, readable_by, contracted)) => SchemaState {
            version: v as usize,
            readable_by: readable_by.unwrap_or(1) as usize,
            contracted: contracted.unwrap_or(v) as usize,
        },
    })
}

fn write(conn: &Connection, s: SchemaState) -> StoreResult<()> {
    conn.execute("DELETE FROM schema_version", [])?;
    conn.execute(
        "INSERT INTO schema_version (version, readable_by, contracted) VALUES (?1, ?2, ?3)",
        [s.version as i64, s.readable_by as i64, s.contracted as i64],
    )?;
    Ok(())
}

/// Opens the database for a build that knows `migrations`: a new database gets every migration
/// whole; an older one the expand halves it lacks; a newer one is used as it is if this build
/// can still read it, refused otherwise.
pub fn migrate(conn: &mut Connection, migrations: &[Migration]) -> StoreResult<SchemaState> {
    let known = migrations.len();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut s = state(&tx)?;
    if s.version > known {
        if s.readable_by > known {
            return Err(StoreError(format!(
                "database schema version {} was finalized for builds that know {} migrations or more; this build knows {known}: \
                 run a newer build (a rollback past a finalized upgrade needs a backup from before it)",
                s.version, s.readable_by
            )));
        }
        // An expanded schema this build still reads: leave it as the newer build wants it.
        tx.commit()?;
        return Ok(s);
    }
    let fresh = s.version == 0;
    for m in &migrations[s.version..] {
        tx.execute_batch(m.expand)?;
        if fresh {
            // Nobody older has ever read this database: no reason to keep what they needed.
            if let Some(contract) = m.contract {
                tx.execute_batch(contract)?;
            }
        }
    }
    s = SchemaState {
        version: known,
        readable_by: if fresh { known } else { s.readable_by.max(1) },
        contracted: if fresh { known } else { s.contracted },
    };
    write(&tx, s)?;
    tx.commit()?;
    Ok(s)
}

/// The contract step: the pending contract halves, and from now on only builds that know every
/// migration of `migrations` can open the database.
pub fn finalize(conn: &mut Connection, migrations: &[Migration]) -> StoreResult<SchemaState> {
    let known = migrations.len();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let s = state(&tx)?;
    if s.version != known {
        return Err(StoreError(format!(
            "cannot finalize: the database is at schema version {}, this build knows {known}",
            s.version
        )));
    }
    for m in &migrations[s.contracted.min(known)..] {
        if let Some(contract) = m.contract {
            tx.execute_batch(contract)?;
        }
    }
    let s = SchemaState {
        version: known,
        readable_by: known,
        contracted: known,
    };
    write(&tx, s)?;
    tx.commit()?;
    Ok(s)
}

const SQL: &str = "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
         CREATE TABLE accounts (
             username TEXT PRIMARY KEY,
             password_hash TEXT NOT NULL,
             mfa_destination TEXT,
             disabled INTEGER NOT NULL,
             failed_logins INTEGER NOT NULL,
             locked_until INTEGER
         );
         CREATE TABLE sessions (
             seq INTEGER PRIMARY KEY AUTOINCREMENT,
             id TEXT NOT NULL UNIQUE,
             username TEXT NOT NULL,
             device TEXT NOT NULL,
             aal INTEGER NOT NULL,
             created_at INTEGER NOT NULL,
             auth_time INTEGER NOT NULL,
             last_active INTEGER NOT NULL,
             generation INTEGER NOT NULL,
             rotated_at INTEGER,
             token_format TEXT NOT NULL,
             access_epoch INTEGER NOT NULL,
             revoked INTEGER NOT NULL
         );
         CREATE INDEX sessions_by_user ON sessions (username);
         CREATE TABLE refresh_tokens (
             digest BLOB PRIMARY KEY,
             session_id TEXT NOT NULL,
             generation INTEGER NOT NULL
         );
         CREATE TABLE access_tokens (
             digest BLOB PRIMARY KEY,
             session_id TEXT NOT NULL,
             issued_at INTEGER NOT NULL,
             epoch INTEGER NOT NULL
         );
         CREATE TABLE challenges (
             digest BLOB PRIMARY KEY,
             username TEXT NOT NULL,
             upstream_ref TEXT NOT NULL,
             created_at INTEGER NOT NULL,
             attempts INTEGER NOT NULL,
             dead INTEGER NOT NULL
         );
         CREATE INDEX challenges_by_user ON challenges (username);";

#[cfg(test)]
mod tests {
    use super::*;

    /// Build 1 knows a table with `name`; build 2 renames it to `label` the expand/contract way:
    /// add `label` and keep both filled until finalize drops `name`.
    const V1: &[Migration] = &[Migration {
        expand: "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        contract: None,
    }];
    const V2: &[Migration] = &[
        Migration {
            expand: "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
            contract: None,
        },
        Migration {
            expand: "ALTER TABLE things ADD COLUMN label TEXT; UPDATE things SET label = name",
            contract: Some("ALTER TABLE things DROP COLUMN name"),
        },
    ];

    fn open(
        path: &std::path::Path,
        migrations: &[Migration],
    ) -> StoreResult<(Connection, SchemaState)> {
        let mut conn = Connection::open(path)?;
        let s = migrate(&mut conn, migrations)?;
        Ok((conn, s))
    }

    #[test]
    fn an_upgrade_expands_and_the_old_build_still_reads_until_finalize() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let (old, s) = open(&db, V1).unwrap();
        assert_eq!((s.version, s.readable_by), (1, 1));
        old.execute("INSERT INTO things (name) VALUES ('written by v1')", [])
            .unwrap();
        drop(old);
        // The new build expands.
        let (new, s) = open(&db, V2).unwrap();
        assert_eq!((s.version, s.readable_by, s.contracted), (2, 1, 1));
        let label: String = new
            .query_row("SELECT label FROM things", [], |r| r.get(0))
            .unwrap();
        assert_eq!(label, "written by v1");
        // A rollback: the old build opens the expanded database and reads what it knows.
        let (old, s) = open(&db, V1).unwrap();
        assert_eq!(s.version, 2);
        let name: String = old
            .query_row("SELECT name FROM things", [], |r| r.get(0))
            .unwrap();
        assert_eq!(name, "written by v1");
        drop(old);
        // Finalize: the contract half runs, and the old build is refused, not misled.
        let mut new = new;
        let s = finalize(&mut new, V2).unwrap();
        assert_eq!((s.version, s.readable_by, s.contracted), (2, 2, 2));
        assert!(new
            .query_row("SELECT name FROM things", [], |r| r.get::<_, String>(0))
            .is_err());
        drop(new);
        let err = open(&db, V1).err().unwrap();
        assert!(err.0.contains("finalized for builds that know 2"), "{err}");
        // The new build still opens it.
        assert_eq!(open(&db, V2).unwrap().1.version, 2);
    }

    #[test]
    fn a_new_database_runs_every_migration_whole_and_no_older_build_opens_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let (conn, s) = open(&db, V2).unwrap();
        assert_eq!((s.version, s.readable_by, s.contracted), (2, 2, 2));
        assert!(conn
            .query_row("SELECT name FROM things", [], |r| r.get::<_, String>(0))
            .is_err());
        drop(conn);
        assert!(open(&db, V1).is_err());
    }

    #[test]
    fn finalize_needs_the_build_the_database_is_at() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        drop(open(&db, V1).unwrap());
        let mut conn = Connection::open(&db).unwrap();
        assert!(finalize(&mut conn, V2).is_err());
    }

    #[test]
    fn a_database_from_before_expand_contract_counts_as_readable_by_build_1() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version (version) VALUES (1);
             CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        )
        .unwrap();
        drop(conn);
        let (_, s) = open(&db, V2).unwrap();
        assert_eq!((s.version, s.readable_by, s.contracted), (2, 1, 1));
    }
}
