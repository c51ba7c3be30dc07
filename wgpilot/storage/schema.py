"""The schema our migrations produce, as the yardstick for a database we did not
write ourselves (a backup about to be restored).

``expected(version)`` applies migrations 1..version to an empty in-memory database
and describes it; ``describe(conn)`` describes any database the same way; and
``differences(actual, expected)`` names every object that is missing, not ours, or
defined differently. Derived from the migrations, the yardstick cannot drift from
them.

A description holds every object of ``sqlite_master`` — tables, indexes,
triggers, views — with its table, its columns (tables) and its SQL reduced to its
meaning: comments and layout dropped, keywords and identifiers case-folded, quotes
around plain identifiers removed, string literals kept verbatim. SQLite rewrites a
table's stored SQL on ALTER TABLE (RENAME quotes the new name, ADD COLUMN splices
the definition in), so the spelling of a rightly migrated table is not something
to promise across SQLite versions; its meaning is. SQLite's planner statistics
(``sqlite_stat*``, written by ANALYZE) are data about the data, not schema, and
are left out.

Describing reads only ``sqlite_master`` and column lists: it evaluates nothing a
foreign schema defines (no view, trigger, CHECK or generated column runs).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from wgpilot.storage import migrate

_TOKEN = re.compile(
    r"""\s+ | --[^\n]* | /\*.*?(?:\*/|\Z)
    | (?P<string>'(?:[^']|'')*')
    | "(?P<dq>(?:[^"]|"")*)" | `(?P<bq>(?:[^`]|``)*)` | \[(?P<sq>[^\]]*)\]
    | (?P<word>\w+)
    | (?P<punct>.)""",
    re.VERBOSE | re.DOTALL,
)
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def normalise(sql: str) -> str:
    """``sql`` as tokens separated by single spaces, with only its meaning kept."""
    out: list[str] = []
    for m in _TOKEN.finditer(sql):
        kind = m.lastgroup
        if kind is None:  # layout or a comment
            continue
        if kind == "string":
            out.append(m.group())
        elif kind in ("dq", "bq", "sq"):
            name = m.group(kind)
            out.append(name.lower() if _PLAIN.match(name) else m.group())
        else:
            out.append(m.group().lower())
    return " ".join(out)


@dataclass(frozen=True)
class SchemaObject:
    type: str  # table, index, trigger or view
    name: str
    table: str
    sql: str | None  # normalised; None for the indexes SQLite makes for UNIQUE/PRIMARY KEY
    columns: tuple[str, ...] = ()  # tables only, in order


Schema = Mapping[tuple[str, str], SchemaObject]  # keyed by (type, lower-case name)


def describe(conn: sqlite3.Connection, schema: str = "main") -> Schema:
    """Every schema object of database ``schema`` on ``conn``."""
    out: dict[tuple[str, str], SchemaObject] = {}
    rows = conn.execute(f"SELECT type, name, tbl_name, sql FROM {schema}.sqlite_master").fetchall()
    for type_, name, table, sql in rows:
        if type_ == "table" and name.lower().startswith("sqlite_stat"):
            continue
        columns: tuple[str, ...] = ()
        if type_ == "table":
            try:
                found = conn.execute("SELECT name FROM pragma_table_xinfo(?, ?)", (name, schema)).fetchall()
            except sqlite3.Error:  # a virtual table of a module this SQLite lacks: differs anyway
                found = []
            columns = tuple(str(r[0]).lower() for r in found)
        out[(type_, name.lower())] = SchemaObject(
            type_, name, str(table).lower(), None if sql is None else normalise(sql), columns
        )
    return out


@cache
def expected(version: int) -> Schema:
    """The schema of a database migrated by us to ``version`` (read-only: cached)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(migrate.BOOKKEEPING)
        for mig in migrate.available()[:version]:
            for stmt in migrate.statements(mig.sql):
                conn.execute(stmt)
        return describe(conn)
    finally:
        conn.close()


_ORDER = {"table": 0, "view": 1, "index": 2, "trigger": 3}


def _ordered(keys: set[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(keys, key=lambda k: (_ORDER.get(k[0], 9), k))


def differences(actual: Schema, wanted: Schema) -> list[str]:
    """What keeps ``actual`` from being ``wanted``, one phrase per object, tables first;
    empty when equal. The indexes and triggers of a missing table go without saying."""
    gone = {n for t, n in wanted.keys() - actual.keys() if t == "table"}
    out = [
        f"missing {t} {wanted[(t, n)].name}"
        for t, n in _ordered(wanted.keys() - actual.keys())
        if t == "table" or wanted[(t, n)].table not in gone
    ]
    out += [f"unexpected {t} {actual[(t, n)].name}" for t, n in _ordered(actual.keys() - wanted.keys())]
    for key in _ordered(actual.keys() & wanted.keys()):
        have, want = actual[key], wanted[key]
        if have == want:
            continue
        missing = [c for c in want.columns if c not in have.columns]
        extra = [c for c in have.columns if c not in want.columns]
        if missing:
            out.append(f"table {have.name}: missing column {', '.join(missing)}")
        if extra:
            out.append(f"table {have.name}: unexpected column {', '.join(extra)}")
        if not missing and not extra:
            out.append(f"{have.type} {have.name}: defined differently")
    return out
