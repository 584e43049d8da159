"""Password checks at login: the fast verifier, the verified-password cache, then scrypt.

A station's Basic auth password is checked, cheapest first:

1. its stored fast verifier (csms.security.password_key), when the node has the password key:
   one HMAC; this is what keeps the logins of a whole fleet after a restart cheap;
2. the node's verified-password cache (csms.store.passwords.VerifiedPasswords): one HMAC, for
   a station that logged in on this node before (a reconnect);
3. scrypt, in a thread per core, off the event loop.

A password that scrypt accepts is remembered in the cache and, with the key, its verifier is
written beside the hash (in batches, by one background task), so that its next login, on any
node sharing the key, after any restart, costs an HMAC. One credential is never checked by two
scrypts at once: a station that gave up waiting (its handshake timed out in a storm) and
retries waits for the check already under way, which runs to its end whoever still waits.
Nothing here ever decides that a password is wrong without scrypt: a verifier that does not
match (another key, a stale hash) only sends the check on to scrypt.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import structlog

from csms import metrics
from csms.security.password_key import PasswordKeys, VerifierCheck
from csms.store import stations
from csms.store.db import Db
from csms.store.passwords import VerifiedPasswords, hash_password, verify_password

log = structlog.get_logger("csms.logins")

#: Verifiers written per statement.
WRITE_BATCH = 2000


class PasswordLogins:
    """One node's password checking: scrypt threads, the cache, and the verifier writer."""

    def __init__(self, pool: Db | None, keys: PasswordKeys | None):
        self.pool = pool
        self.keys = keys
        # scrypt runs in threads (it releases the GIL), one per core: more would only queue
        # 16 MiB hashes in memory while handshakes wait the same.
        self._hashing = ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                           thread_name_prefix="csms-scrypt")
        self._verified = VerifiedPasswords()
        self._to_write: list[tuple[str, str, str]] = []
        self._checking: dict[bytes, asyncio.Future[bool]] = {}
        self._writer: asyncio.Task[None] | None = None
        self._counted = {method: metrics.PASSWORD_CHECKS.labels(method)
                         for method in ("verifier", "cache", "scrypt")}

    async def verify(self, identity: str, password: str, stored: str,
                     verifier: str | None = None) -> bool:
        """True when ``password`` is the one whose scrypt hash is ``stored``."""
        if self.keys is not None:
            check = self.keys.check(identity, password, stored, verifier)
            if check is not VerifierCheck.UNKNOWN:
                self._counted["verifier"].inc()
                if check is VerifierCheck.MATCH_RETIRED:
                    self._write_verifier(identity, password, stored)
                return True
        if self._verified.known(identity, password, stored):
            self._counted["cache"].inc()
            return True
        tag = self._verified.tag(identity, password, stored)
        check = self._checking.get(tag)
        if check is None:
            self._counted["scrypt"].inc()
            check = asyncio.wrap_future(self._hashing.submit(verify_password, password, stored))
            self._checking[tag] = check

            def done(check: asyncio.Future[bool]) -> None:
                del self._checking[tag]
                # Remembered even if no handshake waits any more (a boot storm): the
                # station's retry then costs nothing instead of another scrypt.
                if not check.cancelled() and check.exception() is None and check.result():
                    self._accepted(identity, password, stored)

            check.add_done_callback(done)
        # A waiter that gives up (a handshake timeout) leaves the check running.
        return await asyncio.shield(check)

    async def hash(self, password: str) -> str:
        """A new scrypt hash of ``password`` (a person's choice: the full cost), in a thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._hashing, hash_password, password)

    def _accepted(self, identity: str, password: str, stored: str) -> None:
        self._verified.remember(identity, password, stored)
        self._write_verifier(identity, password, stored)

    def remember(self, identity: str, password: str, stored: str) -> None:
        """``password`` is known to match ``stored``, now ``identity``'s current hash (just
        registered with it, or a rotation to it just completed): cache it, store its
        verifier."""
        self._accepted(identity, password, stored)

    def _write_verifier(self, identity: str, password: str, stored: str) -> None:
        if self.keys is None or self.pool is None:
            return
        self._to_write.append((identity, stored, self.keys.verifier(identity, password, stored)))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        assert self.pool is not None
        while self._to_write:
            await asyncio.sleep(0)  # let the verifications of this moment join the batch
            batch, self._to_write = self._to_write[:WRITE_BATCH], self._to_write[WRITE_BATCH:]
            try:
                await stations.store_password_verifiers(self.pool, batch)
            except Exception as exc:  # the next scrypt of these stations writes them again
                log.warning("password_verifiers_not_stored", count=len(batch),
                            error=f"{type(exc).__name__}: {exc}")

    async def close(self, timeout: float = 5.0) -> None:
        """Let the verifiers waiting to be written go out (at most ``timeout`` s), then stop
        the scrypt threads."""
        if self._writer is not None and not self._writer.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._writer, timeout)
        self._hashing.shutdown(wait=False, cancel_futures=True)
