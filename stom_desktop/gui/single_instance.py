"""Only one tray per user (and STOM_HOME): a second launch asks the first to show itself.

The first instance listens on a ``QLocalServer`` (a Unix socket / Windows named pipe);
a later launch connects, sends ``show`` and exits 0. A socket left by a crashed instance
(nobody answers) is removed and taken over.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtNetwork import QLocalServer, QLocalSocket

from stom_desktop.core.errors import StomError

log = logging.getLogger(__name__)

SHOW_MESSAGE = b"show\n"
_CONNECT_TIMEOUT_MS = 500


def default_instance_name() -> str:
    """A per-user, per-``STOM_HOME`` server name (tests and portable installs do not clash)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers): fall back to the uid
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    home = os.environ.get("STOM_HOME", "")
    digest = hashlib.sha1(home.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]
    return f"stom-desktop-{user}-{digest}"


def notify_running_instance(name: str, timeout_ms: int = _CONNECT_TIMEOUT_MS) -> bool:
    """Send ``show`` to an instance listening on ``name``; False when none answers."""
    sock = QLocalSocket()
    sock.connectToServer(name)
    if not sock.waitForConnected(timeout_ms):
        return False
    sock.write(SHOW_MESSAGE)
    sock.flush()
    sock.waitForBytesWritten(timeout_ms)
    sock.disconnectFromServer()
    return True


class SingleInstance(QObject):
    """The listening side; ``show_requested`` fires when another launch asked for it."""

    show_requested = pyqtSignal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server = QLocalServer(self)
        self._server.newConnection.connect(self._on_connection)

    def listen(self) -> None:
        """Start listening (removing a stale socket); raises ``StomError`` if impossible."""
        if not self._server.listen(self.name):
            # A previous instance crashed and left its socket file: nobody answered
            # notify_running_instance, so it is safe to remove and retry once.
            QLocalServer.removeServer(self.name)
            if not self._server.listen(self.name):
                raise StomError(
                    f"cannot listen on local socket {self.name!r}: {self._server.errorString()}",
                    hint="another STOM Desktop may be starting; try again",
                )
        log.debug("single-instance server listening on %s", self._server.fullServerName())

    def close(self) -> None:
        """Stop listening."""
        self._server.close()

    def _on_connection(self) -> None:
        while self._server.hasPendingConnections():
            sock = self._server.nextPendingConnection()
            if sock is None:
                return
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(sock.deleteLater)
            if sock.bytesAvailable():
                self._read(sock)

    def _read(self, sock: QLocalSocket) -> None:
        data = bytes(sock.readAll().data())
        if b"show" in data:
            log.info("another launch asked this instance to show itself")
            self.show_requested.emit()


def claim_or_notify(name: str) -> SingleInstance | None:
    """Become the primary instance (returns its server) or notify it and return None."""
    if notify_running_instance(name):
        return None
    instance = SingleInstance(name)
    instance.listen()
    return instance
