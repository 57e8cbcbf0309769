"""The history's schema, as an ordered list of migrations (store.py documents the tables).

A database records each migration applied in ``schema_version``; opening one applies the
missing ones in order, each in its own transaction. A database of a newer schema than this
tool knows is refused (HistoryError), never written.
"""

from __future__ import annotations

import sqlite3

from dumptriage.batch.errors import HistoryError

V1 = """
CREATE TABLE dumps (
    hash TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    retry INTEGER NOT NULL DEFAULT 0,
    source_kind TEXT, crash_time TEXT, vm TEXT, os_build INTEGER, os_name TEXT,
    bugcheck TEXT, bugcheck_name TEXT, culprit TEXT, top_finding TEXT, top_confidence TEXT,
    signature TEXT, signature_notes TEXT, error_code TEXT, error TEXT,
    report BLOB, size INTEGER, tool_version TEXT NOT NULL,
    first_run INTEGER NOT NULL, first_seen TEXT NOT NULL, analysed_at TEXT NOT NULL
);
CREATE INDEX dumps_signature ON dumps (signature);
CREATE TABLE paths (
    path TEXT PRIMARY KEY, parent TEXT, hash TEXT,
    size INTEGER, mtime_ns INTEGER, inode INTEGER,
    complete INTEGER NOT NULL DEFAULT 0, seen_at TEXT NOT NULL
);
CREATE INDEX paths_parent ON paths (parent);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT,
    roots TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'running',
    found INTEGER NOT NULL DEFAULT 0, analysed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE sightings (
    run_id INTEGER NOT NULL, path TEXT NOT NULL, hash TEXT, analysed INTEGER NOT NULL,
    PRIMARY KEY (run_id, path)
);
"""

# Version 2: which host-side files a row was made with (the VM and the findings depend on
# them, not on the dump's bytes), and an index for "which runs saw this dump".
V2 = """
ALTER TABLE dumps ADD COLUMN context TEXT;
CREATE INDEX sightings_hash ON sightings (hash);
"""

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "dumps, paths, runs, sightings", V1),
    (2, "dumps.context; sightings by hash", V2),
)
LATEST = MIGRATIONS[-1][0]


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                 "applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, description TEXT)")
    [(version,)] = conn.execute("SELECT MAX(version) FROM schema_version").fetchall()
    return int(version or 0)


def migrate(conn: sqlite3.Connection, source: str, upto: int = LATEST) -> int:
    version = current_version(conn)
    if version > LATEST:
        raise HistoryError(source, f"history schema version {version} is newer than this "
                           f"dumptriage knows ({LATEST}): use a newer dumptriage")
    for number, description, script in MIGRATIONS:
        if version < number <= upto:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version, description) VALUES (?, ?)",
                             (number, description))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            version = number
    return version
