"""Leases and replica heartbeats as rows in PostgreSQL (psycopg 3, async, autocommit).

Rows with an expiry, not advisory locks: an advisory lock lives as long as its session, so a
replica cut off from the database keeps believing it holds it while the server already freed
it (and a pooled or restarted connection loses it silently). A row's expiry is a fact both
sides can reason about with a clock: the holder stops before it, the taker waits for it.

Every statement is one atomic conditional write; the caller passes `now` (tests inject it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import tuple_row

NS = "alertbot_cluster"  # a schema of its own: the state's tables (public) stay alertbot's only
SCHEMA_LOCK = 0x6C656173  # pg_advisory_xact_lock key: `IF NOT EXISTS` alone races
SCHEMA = (
    f"CREATE SCHEMA IF NOT EXISTS {NS}",
    f"""CREATE TABLE IF NOT EXISTS {NS}.replicas (
        replica text PRIMARY KEY,
        started_at double precision NOT NULL,
        beat_at double precision NOT NULL,
        expires_at double precision NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {NS}.leases (
        name text PRIMARY KEY,
        owner text NOT NULL,
        acquired_at double precision NOT NULL,
        renewed_at double precision NOT NULL,
        expires_at double precision NOT NULL,
        epoch bigint NOT NULL DEFAULT 1
    )""",
)
Error = psycopg.Error  # what a lost or refused connection raises; callers catch this one


@dataclass(frozen=True, slots=True)
class Lease:
    """One lease row."""

    name: str
    owner: str
    acquired_at: float
    renewed_at: float
    expires_at: float
    epoch: int


@dataclass(frozen=True, slots=True)
class Replica:
    """One replica's heartbeat row."""

    replica: str
    started_at: float
    beat_at: float
    expires_at: float


class LeaseStore:
    """One connection to the lease tables; reconnects on the next call after an error."""

    def __init__(self, dsn: str, *, connect_timeout: float = 3.0) -> None:
        self._dsn = dsn
        self._timeout = connect_timeout
        self._conn: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        self._ready = False

    async def _connection(self) -> psycopg.AsyncConnection[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self._dsn,
                autocommit=True,
                connect_timeout=max(1, round(self._timeout)),
                row_factory=tuple_row,
            )
        if not self._ready:  # replicas starting together: one creates, the others wait
            async with self._conn.transaction():
                await self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                for statement in SCHEMA:
                    await self._conn.execute(statement)
            self._ready = True
        return self._conn

    async def _rows(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run one statement; on any database error drop the connection and raise."""
        try:
            conn = await self._connection()
            cursor = await conn.execute(query, params)
            return await cursor.fetchall() if cursor.description is not None else []
        except Error:
            await self.close()
            raise

    async def close(self) -> None:
        """Drop the connection (the next call opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            await conn.close()

    # --- replicas -------------------------------------------------------------------------
    async def beat(self, replica: str, now: float, ttl: float) -> None:
        """This replica is alive until now + ttl."""
        await self._rows(
            f"""INSERT INTO {NS}.replicas (replica, started_at, beat_at, expires_at)
               VALUES (%(r)s, %(now)s, %(now)s, %(exp)s)
               ON CONFLICT (replica) DO UPDATE SET beat_at = %(now)s, expires_at = %(exp)s""",
            {"r": replica, "now": now, "exp": now + ttl},
        )

    async def replicas(self) -> list[Replica]:
        """Every replica row (live or not), by id."""
        rows = await self._rows(f"SELECT * FROM {NS}.replicas ORDER BY replica", {})
        return [Replica(str(r[0]), float(r[1]), float(r[2]), float(r[3])) for r in rows]

    async def leave(self, replica: str) -> None:
        """A clean stop: give back every lease and the heartbeat row at once."""
        await self._rows(f"DELETE FROM {NS}.leases WHERE owner = %(r)s", {"r": replica})
        await self._rows(f"DELETE FROM {NS}.replicas WHERE replica = %(r)s", {"r": replica})

    # --- leases ---------------------------------------------------------------------------
    async def leases(self) -> list[Lease]:
        """Every lease row (expired ones too), by name."""
        rows = await self._rows(f"SELECT * FROM {NS}.leases ORDER BY name", {})
        return [
            Lease(str(r[0]), str(r[1]), float(r[2]), float(r[3]), float(r[4]), int(r[5]))
            for r in rows
        ]

    async def acquire(
        self, names: Sequence[str], replica: str, now: float, ttl: float
    ) -> list[str]:
        """Take each free or expired lease; return those taken (a live holder keeps its own)."""
        if not names:
            return []
        rows = await self._rows(
            f"""INSERT INTO {NS}.leases AS l
                   (name, owner, acquired_at, renewed_at, expires_at, epoch)
               SELECT n, %(r)s, %(now)s, %(now)s, %(exp)s, 1 FROM unnest(%(names)s::text[]) AS n
               ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,
                   acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at,
                   expires_at = excluded.expires_at, epoch = l.epoch + 1
               WHERE l.expires_at <= %(now)s
               RETURNING name""",
            {"r": replica, "now": now, "exp": now + ttl, "names": list(names)},
        )
        return sorted(str(r[0]) for r in rows)

    async def renew(self, names: Sequence[str], replica: str, now: float, ttl: float) -> list[str]:
        """Extend the leases this replica still holds; return those renewed (not the lapsed)."""
        if not names:
            return []
        rows = await self._rows(
            f"""UPDATE {NS}.leases SET renewed_at = %(now)s, expires_at = %(exp)s
               WHERE owner = %(r)s AND name = ANY(%(names)s) AND expires_at > %(now)s
               RETURNING name""",
            {"r": replica, "now": now, "exp": now + ttl, "names": list(names)},
        )
        return sorted(str(r[0]) for r in rows)

    async def release(self, names: Sequence[str], replica: str) -> None:
        """Give leases back at once (rebalancing), so the next owner need not wait the ttl."""
        if names:
            await self._rows(
                f"DELETE FROM {NS}.leases WHERE owner = %(r)s AND name = ANY(%(names)s)",
                {"r": replica, "names": list(names)},
            )
