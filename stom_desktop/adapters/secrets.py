"""The OS keyring as the secret store for exchange API keys (service ``stom-desktop``).

Secrets live only in the keyring: never in the database, the settings file or a log line.
The store also judges the active keyring backend: with no desktop session keyring falls
back to ``fail.Keyring`` (every call raises ``NoKeyringError``) or, when keyrings.alt is
installed, to ``PlaintextKeyring`` (base64 in a file, *not encrypted*). Both are reported
through :meth:`KeyringSecretStore.backend_info` so the UI can warn the user loudly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

from stom_desktop.core.errors import StomError

log = logging.getLogger(__name__)

#: The keyring "service" every STOM Desktop secret is filed under.
SERVICE_NAME = "stom-desktop"

# Backends that do not protect a secret at all: (module prefix, class name).
_INSECURE = {
    ("keyrings.alt.file", "PlaintextKeyring"): (
        "the keyring backend is keyrings.alt PlaintextKeyring: secrets are only base64-encoded "
        "in a file, NOT encrypted. Install/unlock an OS keyring (Secret Service, KWallet, "
        "macOS Keychain, Windows Credential Manager) before storing real API keys."
    ),
    ("keyring.backends.null", "Keyring"): (
        "the keyring backend is the null keyring: nothing is stored at all."
    ),
}
_NO_KEYRING = (
    "no OS keyring is available (keyring fell back to fail.Keyring): API keys cannot be "
    "stored. Start a desktop keyring (Secret Service/KWallet) or select a backend with "
    "PYTHON_KEYRING_BACKEND."
)


class SecretStoreError(StomError):
    """The keyring refused or could not perform an operation; ``key`` names the entry."""

    def __init__(self, message: str, *, key: str | None = None, hint: str | None = None) -> None:
        self.key = key
        where = f"keyring entry '{SERVICE_NAME}/{key}': " if key is not None else ""
        super().__init__(where + message, hint=hint)


@dataclass(frozen=True, slots=True)
class BackendInfo:
    """Which keyring backend is active and whether secrets stored there are protected."""

    name: str
    available: bool  # False: every call fails (fail.Keyring)
    secure: bool  # False: stored in plain text or not stored at all
    warning: str | None  # what to tell the user when not secure


def _leaf_backends(backend: KeyringBackend) -> list[KeyringBackend]:
    """The backends a ``ChainerBackend`` delegates to (or the backend itself)."""
    inner: Any = getattr(backend, "backends", None)
    if isinstance(inner, list | tuple) and inner:
        return list(inner)
    return [backend]


def describe_backend(backend: KeyringBackend) -> BackendInfo:
    """Classify ``backend``: unavailable (fail.Keyring), insecure (plaintext/null) or fine."""
    leaves = _leaf_backends(backend)
    names = ", ".join(f"{type(b).__module__}.{type(b).__qualname__}" for b in leaves)
    first = leaves[0]
    module, cls = type(first).__module__, type(first).__qualname__
    if module == "keyring.backends.fail":
        return BackendInfo(names, available=False, secure=False, warning=_NO_KEYRING)
    for (prefix, name), warning in _INSECURE.items():
        if module.startswith(prefix) and cls == name:
            return BackendInfo(names, available=True, secure=False, warning=warning)
    return BackendInfo(names, available=True, secure=True, warning=None)


class KeyringSecretStore:
    """Get, set and delete secrets under one keyring service (default ``stom-desktop``).

    ``backend`` pins a specific keyring backend (tests pass a file-backed one); by default
    the process-wide ``keyring.get_keyring()`` is used at each call, so
    ``keyring.set_keyring`` takes effect immediately.
    """

    def __init__(self, service: str = SERVICE_NAME, backend: KeyringBackend | None = None) -> None:
        self.service = service
        self._backend = backend
        self._warned = False

    def _keyring(self) -> KeyringBackend:
        return self._backend if self._backend is not None else keyring.get_keyring()

    def backend_info(self) -> BackendInfo:
        """The active backend and, when it does not protect secrets, a loud warning."""
        info = describe_backend(self._keyring())
        if info.warning is not None and not self._warned:
            # Loud once per store: the UI shows it in red, the log keeps a trace.
            log.warning("secret store: %s", info.warning)
            self._warned = True
        return info

    def get(self, key: str) -> str | None:
        """The secret stored under ``key``, or ``None`` when there is none."""
        try:
            return self._keyring().get_password(self.service, key)
        except NoKeyringError as exc:
            raise SecretStoreError(_NO_KEYRING, key=key) from exc
        except KeyringError as exc:
            raise SecretStoreError(f"read failed: {type(exc).__name__}", key=key) from exc

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` (replacing any previous value)."""
        try:
            self._keyring().set_password(self.service, key, value)
        except NoKeyringError as exc:
            raise SecretStoreError(_NO_KEYRING, key=key) from exc
        except KeyringError as exc:
            # Only the exception type: its text could echo the value on some backends.
            raise SecretStoreError(f"write failed: {type(exc).__name__}", key=key) from exc

    def delete(self, key: str) -> bool:
        """Remove ``key``; returns False when it was not there."""
        try:
            self._keyring().delete_password(self.service, key)
        except PasswordDeleteError:
            return False
        except NoKeyringError as exc:
            raise SecretStoreError(_NO_KEYRING, key=key) from exc
        except KeyringError as exc:
            raise SecretStoreError(f"delete failed: {type(exc).__name__}", key=key) from exc
        return True
