"""Stations: registration and credentials, connection state, boot, heartbeat, connector status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from csms.store.arrays import literal
from csms.store.base import StationExists, StationNotFound
from csms.store.commands import node_alive
from csms.store.db import Db, connection
from csms.store.events_feed import FEED_CHANNEL, FeedType, feed_ctes
from csms.store.live import LIVE_CHANNEL, status_payload
from csms.store.metering import HEARTBEATS
from csms.store.passwords import CHOSEN_LOG2_N, hash_password
from csms.store.transactions import active_transaction_ids


@dataclass(frozen=True)
class StationCredentials:
    """What the server needs to authenticate a station's handshake."""

    password_hash: str | None
    security_profile: int
    #: the password's fast verifier (csms.security.password_key), None until one is stored
    password_verifier: str | None = None


@dataclass
class ConnectorStatus:
    """The last status a station reported for one connector."""

    evse_id: int
    connector_id: int
    status: str
    status_at: datetime


@dataclass
class StationSummary:
    """One station as listed: identity, what it reported at boot, and whether it is online."""

    id: str
    security_profile: int
    vendor_name: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    boot_status: str | None
    last_boot_at: datetime | None
    last_heartbeat_at: datetime | None
    connected: bool
    node_id: str | None
    subprotocol: str | None
    remote_address: str | None
    connected_at: datetime | None
    disconnected_at: datetime | None
    created_at: datetime


@dataclass
class StationDetail(StationSummary):
    """A station in full: its summary plus connectors, device model size, open transactions."""

    modem_iccid: str | None = None
    modem_imsi: str | None = None
    boot_reason: str | None = None
    #: what the station is answered at its next BootNotification (None: the server's policy)
    registration_status: str | None = None
    connectors: list[ConnectorStatus] = field(default_factory=list)
    device_model_variables: int = 0
    device_model_components: int = 0
    active_transactions: list[str] = field(default_factory=list)


# Connected: a live node holds the socket (a node killed without a clean stop stops writing its
# heartbeat, and its stations read as offline within NODE_STALE_SECONDS).
_SUMMARY_COLUMNS = f"""
    id, security_profile, vendor_name, model, serial_number, firmware_version, boot_status,
    last_boot_at, last_heartbeat_at,
    coalesce(node_id IN (SELECT n.node_id FROM nodes n WHERE {node_alive()}), false)
        AS connected,
    node_id, subprotocol, remote_address, connected_at, disconnected_at, created_at
"""


async def register_station(
    db: Db,
    station_id: str,
    password: str | None,
    security_profile: int = 1,
    *,
    password_hash: str | None = None,
) -> None:
    """Register a station; its password is stored only as a salted hash.

    Raises StationExists if the identity is taken. ``password`` may be None for stations that
    authenticate only by client certificate (security profile 3). A caller that hashed the
    password already (e.g. many stations in worker threads) passes ``password_hash`` instead.
    """
    hashed = hash_password(password) if password is not None else password_hash
    row = await db.fetchrow(
        """
        INSERT INTO stations (id, password_hash, security_profile) VALUES ($1, $2, $3)
        ON CONFLICT (id) DO NOTHING RETURNING id
        """,
        station_id,
        hashed,
        security_profile,
    )
    if row is None:
        raise StationExists(station_id)


async def set_password(db: Db, station_id: str, password: str, *,
                       log2_n: int = CHOSEN_LOG2_N) -> None:
    """Replace a station's password (hashed at cost ``log2_n``, see csms.store.passwords).
    Raises StationNotFound for an unknown station."""
    status = await db.execute(
        "UPDATE stations SET password_hash = $2 WHERE id = $1", station_id,
        hash_password(password, log2_n=log2_n)
    )
    if status == "UPDATE 0":
        raise StationNotFound(station_id)


async def remove_station(db: Db, station_id: str) -> bool:
    """Delete a station and everything stored about it; False if there was no such station."""
    async with connection(db) as conn, conn.transaction():
        for table in ("meter_raw", "meter_compact", "meter_rollups"):
            await conn.execute(f"DELETE FROM {table} WHERE station_id = $1", station_id)
        status = await conn.execute("DELETE FROM stations WHERE id = $1", station_id)
    return status != "DELETE 0"


async def get_station_credentials(db: Db, station_id: str) -> StationCredentials | None:
    """The stored password hash, its fast verifier and the security profile of a station, or
    None if unknown."""
    return (await credentials_of(db, [station_id])).get(station_id)


async def credentials_of(db: Db, station_ids: Sequence[str]) -> dict[str, StationCredentials]:
    """:func:`get_station_credentials` of many stations in one query (a boot storm's
    handshakes, :mod:`csms.store.coalesce`); unknown stations are left out."""
    rows = await db.fetch(
        "SELECT id, password_hash, security_profile, password_verifier FROM stations"
        " WHERE id = ANY($1::text[])", list(station_ids))
    return {r[0]: StationCredentials(r[1], r[2], r[3]) for r in rows}


async def store_password_verifiers(db: Db, verifiers: Sequence[tuple[str, str, str]]) -> int:
    """Store fast password verifiers, given as ``(station id, password hash, verifier)``; each
    only while the station's password hash is still the one it was made for. Returns how many
    were stored. (A change of the hash clears the verifier: migration 0413.)"""
    if not verifiers:
        return 0
    ids, hashes, tags = (list(column) for column in zip(*verifiers, strict=True))
    status = await db.execute(
        """
        UPDATE stations AS s SET password_verifier = v.verifier
        FROM unnest($1::text[], $2::text[], $3::text[]) AS v(id, password_hash, verifier)
        WHERE s.id = v.id AND s.password_hash = v.password_hash
          AND s.password_verifier IS DISTINCT FROM v.verifier
        """,
        ids, hashes, tags,
    )
    return int(status.split()[-1])


# Stations ($2: ids, $3: subprotocols, $4: remote addresses, $5: feed data) whose sockets
# node $1 now holds: ``s`` holds each known station's id and last boot status.
_CONNECTIONS = """
c AS (
    SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])
        WITH ORDINALITY AS c(id, subprotocol, remote, feed, n)
), s AS (
    UPDATE stations st SET node_id = $1, subprotocol = c.subprotocol,
           remote_address = c.remote, connected_at = now(), disconnected_at = NULL
      FROM c WHERE st.id = c.id
    RETURNING st.id, st.boot_status
)"""

_MARK_CONNECTED = f"WITH {_CONNECTIONS} SELECT boot_status FROM s"

# ... and each announced on $8 and fed as $6 on $7 (csms.store.events_feed).
_CONNECTED = f"""
WITH {_CONNECTIONS}, {feed_ctes("SELECT $6::text, c.feed, c.n FROM c", "$7")}
SELECT s.id, s.boot_status FROM fed LEFT JOIN (
    SELECT s.id, s.boot_status, pg_notify($8, $1 || ' ' || s.id) FROM s) s ON true
"""


async def mark_connected(
    db: Db, station_id: str, node_id: str, subprotocol: str, remote: str | None
) -> str | None:
    """Record that ``node_id`` now holds the station's socket (replacing any earlier holder),
    and nothing else (a node records its stations with :func:`record_connections`).

    Returns the status of the station's last BootNotification answer (None if it never booted).
    """
    return await db.fetchval(_MARK_CONNECTED, node_id, [station_id], [subprotocol], [remote],
                             [None])


async def record_connections(db: Db, node_id: str, connections: dict[str, tuple[str, str | None]],
                             announce_channel: str) -> dict[str, str | None]:
    """Stations whose sockets ``node_id`` now holds, ``{station id: (subprotocol, remote
    address)}``, in one statement: each recorded as :func:`mark_connected` does, announced on
    ``announce_channel`` (``"<node id> <station id>"``: another node holding an older socket
    closes it) and fed as ``station.connected``. Returns each known station's last boot status
    (None: it never booted)."""
    ids = list(connections)
    feed = [orjson.dumps({"station_id": i, "ocpp": sub.removeprefix("ocpp"), "remote": remote,
                          "node_id": node_id}).decode()
            for i, (sub, remote) in connections.items()]
    rows = await db.fetch(
        _CONNECTED, node_id, ids, [sub for sub, _ in connections.values()],
        [remote for _, remote in connections.values()], feed,
        str(FeedType.STATION_CONNECTED), FEED_CHANNEL, announce_channel)
    return {r[0]: r[1] for r in rows if r[0] is not None}


async def mark_disconnected(db: Db, station_id: str, node_id: str) -> bool:
    """Record that the station's socket closed, only if ``node_id`` still holds it.

    Returns False when another node has taken the station over meanwhile (nothing changes).
    """
    status = await db.execute(
        """
        UPDATE stations SET node_id = NULL, disconnected_at = now()
         WHERE id = $1 AND node_id = $2
        """,
        station_id,
        node_id,
    )
    return status != "UPDATE 0"


#: A station's registration status, or for one that never booted the default for new stations.
_REGISTRATION = """coalesce(registration_status, CASE WHEN last_boot_at IS NULL THEN
                   (SELECT d.registration_status FROM boot_defaults d) END)"""


async def record_boot(
    db: Db,
    station_id: str,
    *,
    status: str,
    reason: str,
    vendor_name: str,
    model: str,
    serial_number: str | None = None,
    firmware_version: str | None = None,
    modem_iccid: str | None = None,
    modem_imsi: str | None = None,
) -> str:
    """Store what a BootNotification reported; return the status to answer (B01, B02, B03).

    The station's own registration status wins (``csms stations set-boot``). A station that
    never booted before takes the default for new stations, if one is stored, and keeps it as
    its own. ``status`` (the server's boot policy) answers the others.
    """
    answer = await db.fetchval(
        f"""
        UPDATE stations SET registration_status = {_REGISTRATION},
               boot_status = coalesce({_REGISTRATION}, $2),
               boot_reason = $3, vendor_name = $4, model = $5,
               serial_number = $6, firmware_version = $7, modem_iccid = $8, modem_imsi = $9,
               last_boot_at = now()
         WHERE id = $1
        RETURNING boot_status
        """,
        station_id,
        status,
        reason,
        vendor_name,
        model,
        serial_number,
        firmware_version,
        modem_iccid,
        modem_imsi,
    )
    return answer or status


async def record_heartbeats(db: Db, station_ids: Sequence[str]) -> None:
    """Record that each of ``station_ids`` sent a Heartbeat now (one statement)."""
    await db.execute(HEARTBEATS, literal(station_ids))


async def record_connector_status(
    db: Db, station_id: str, evse_id: int, connector_id: int, status: str, timestamp: datetime
) -> None:
    """Store a connector's status; a report older than the stored one changes nothing.
    A stored status is announced live (``evse.status``, :mod:`csms.store.live`)."""
    await db.execute(
        """
        WITH evse AS (
            INSERT INTO evses (station_id, evse_id) VALUES ($1, $2)
            ON CONFLICT (station_id, evse_id) DO UPDATE SET updated_at = now()
        ), stored AS (
            INSERT INTO connectors (station_id, evse_id, connector_id, status, status_at)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (station_id, evse_id, connector_id) DO UPDATE
               SET status = EXCLUDED.status, status_at = EXCLUDED.status_at, updated_at = now()
             WHERE connectors.status_at <= EXCLUDED.status_at
            RETURNING 1
        )
        SELECT pg_notify($6, $7) FROM stored
        """,
        station_id,
        evse_id,
        connector_id,
        status,
        timestamp,
        LIVE_CHANNEL,
        status_payload(station_id, evse_id, connector_id, status, timestamp),
    )


async def existing_station_ids(db: Db, station_ids: list[str]) -> set[str]:
    """Which of ``station_ids`` are registered."""
    rows = await db.fetch("SELECT id FROM stations WHERE id = ANY($1::text[])", station_ids)
    return {r["id"] for r in rows}


async def stations_with_transaction(db: Db, transaction_id: str) -> list[str]:
    """The stations that reported a transaction with this id, in order (transaction ids are
    unique per station only)."""
    rows = await db.fetch("SELECT DISTINCT station_id FROM transactions"
                          " WHERE transaction_id = $1 ORDER BY station_id", transaction_id)
    return [r["station_id"] for r in rows]


async def list_stations(db: Db, *, after: str | None = None,
                        limit: int | None = None) -> list[StationSummary]:
    """Every registered station, ordered by identity (a page: the first ``limit`` after the
    identity ``after``)."""
    rows = await db.fetch(f"SELECT {_SUMMARY_COLUMNS} FROM stations"
                          " WHERE $1::text IS NULL OR id > $1 ORDER BY id LIMIT $2",
                          after, limit)
    return [StationSummary(**dict(r)) for r in rows]


async def get_station(db: Db, station_id: str) -> StationDetail | None:
    """A station with its connectors, device model size and open transactions; None if unknown."""
    row = await db.fetchrow(
        f"""
        SELECT {_SUMMARY_COLUMNS}, modem_iccid, modem_imsi, boot_reason,
               {_REGISTRATION} AS registration_status,
               (SELECT count(*) FROM variable_attributes v WHERE v.station_id = s.id)
                   AS device_model_variables,
               (SELECT count(DISTINCT (component_name, component_instance, evse_id, connector_id))
                  FROM variable_attributes v WHERE v.station_id = s.id) AS device_model_components
          FROM stations s WHERE id = $1
        """,
        station_id,
    )
    if row is None:
        return None
    connectors = await db.fetch(
        """
        SELECT evse_id, connector_id, status, status_at FROM connectors
         WHERE station_id = $1 ORDER BY evse_id, connector_id
        """,
        station_id,
    )
    detail = StationDetail(**dict(row))
    detail.connectors = [ConnectorStatus(**dict(c)) for c in connectors]
    detail.active_transactions = await active_transaction_ids(db, station_id)
    return detail


async def password_verifier_keys(db: Db) -> dict[str | None, int]:
    """How many stations with a password have a fast verifier under each key id (None: no
    verifier)."""
    rows = await db.fetch(
        "SELECT nullif(split_part(password_verifier, '$', 2), '') AS key_id, count(*) AS n"
        " FROM stations WHERE password_hash IS NOT NULL GROUP BY 1"
    )
    return {r["key_id"]: r["n"] for r in rows}
