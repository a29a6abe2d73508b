"""Exchange accounts: API key/secret pairs kept in the OS keyring, shown only masked.

The service is the one way drivers touch credentials. Secrets go to the
:class:`SecretStore` (the keyring) and nowhere else: not the database, not the settings
file, not a log line (nothing here logs a value). The account *index* (names and exchange
ids, which are not secret) is also kept in the keyring, so the whole feature needs no
table and no setting. Storing into a backend that does not protect secrets (keyrings.alt
``PlaintextKeyring``) is refused unless the caller passes ``allow_insecure=True`` after
asking the user.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Protocol

from stom_desktop.adapters.secrets import BackendInfo, SecretStoreError
from stom_desktop.core.errors import ConfigurationError

log = logging.getLogger(__name__)

#: Keyring entry holding the JSON list of accounts (names and exchanges only).
INDEX_KEY = "accounts-index"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MASK = "\u2022" * 8


class SecretStore(Protocol):
    """What the service needs from a secret store (``adapters.secrets.KeyringSecretStore``)."""

    def backend_info(self) -> BackendInfo: ...
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str) -> None: ...
    def delete(self, key: str) -> bool: ...


def mask_key(value: str) -> str:
    """An API key for display: first and last 4 characters when it is long, else dots."""
    if len(value) >= 16:
        return f"{value[:4]}{_MASK}{value[-4:]}"
    return _MASK


def mask_secret(value: str) -> str:
    """A secret for display: never any of its characters, only that one is set."""
    return _MASK if value else ""


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """An account as the UI may show it: masked, never the raw values."""

    name: str
    exchange: str
    api_key_masked: str
    secret_masked: str
    complete: bool  # both key and secret present in the keyring


@dataclass(frozen=True, slots=True)
class Credentials:
    """A key/secret pair for a broker adapter; ``repr`` never shows the values."""

    name: str
    exchange: str
    api_key: str = field(repr=False)
    secret: str = field(repr=False)


def _key_entry(name: str) -> str:
    return f"{name}:api_key"


def _secret_entry(name: str) -> str:
    return f"{name}:secret"


class AccountService:
    """List, add/replace and delete exchange API key pairs in the secret store."""

    def __init__(self, store: SecretStore) -> None:
        self._store = store

    def backend_status(self) -> BackendInfo:
        """The keyring backend in use; ``warning`` is set when secrets are not protected."""
        return self._store.backend_info()

    def _index(self) -> dict[str, str]:
        raw = self._store.get(INDEX_KEY)
        if raw is None:
            return {}
        try:
            entries = json.loads(raw)
            return {str(e["name"]): str(e.get("exchange", "")) for e in entries}
        except (json.JSONDecodeError, TypeError, KeyError) as exc:
            raise SecretStoreError(
                f"the account index is corrupt ({type(exc).__name__})",
                key=INDEX_KEY,
                hint="delete that keyring entry and add the accounts again",
            ) from exc

    def _save_index(self, index: dict[str, str]) -> None:
        entries = [{"name": n, "exchange": index[n]} for n in sorted(index)]
        self._store.set(INDEX_KEY, json.dumps(entries))

    def list_accounts(self) -> list[AccountInfo]:
        """Every stored account, sorted by name, with masked key and secret."""
        out: list[AccountInfo] = []
        for name, exchange in sorted(self._index().items()):
            key = self._store.get(_key_entry(name)) or ""
            secret = self._store.get(_secret_entry(name)) or ""
            out.append(
                AccountInfo(
                    name, exchange, mask_key(key), mask_secret(secret), bool(key and secret)
                )
            )
        return out

    def set_account(
        self,
        name: str,
        api_key: str,
        secret: str,
        *,
        exchange: str = "",
        allow_insecure: bool = False,
    ) -> AccountInfo:
        """Store (or replace) the key pair of account ``name``; returns its masked view.

        Raises ``ConfigurationError`` for an invalid name or an empty key/secret and
        ``SecretStoreError`` when the keyring is unavailable, or insecure and
        ``allow_insecure`` is False.
        """
        name = name.strip()
        if not _NAME.match(name):
            raise ConfigurationError(
                "account name must be 1-64 letters, digits, '_', '.', '-' "
                "(starting with a letter or digit)",
                key="accounts.name",
            )
        api_key, secret = api_key.strip(), secret.strip()
        if not api_key or not secret:
            raise ConfigurationError(
                "both the API key and the secret are required", key=f"accounts.{name}"
            )
        info = self._store.backend_info()
        if not info.available:
            raise SecretStoreError(info.warning or "no keyring available", key=name)
        if not info.secure and not allow_insecure:
            raise SecretStoreError(
                info.warning or "the keyring backend is not secure",
                key=name,
                hint="confirm storing in plain text (allow_insecure) or set up an OS keyring",
            )
        if not info.secure:
            log.warning("storing account %r in an INSECURE keyring backend (%s)", name, info.name)
        self._store.set(_key_entry(name), api_key)
        self._store.set(_secret_entry(name), secret)
        index = self._index()
        index[name] = exchange.strip()
        self._save_index(index)
        log.info("account %r saved in the keyring (%s)", name, info.name)
        return AccountInfo(name, exchange.strip(), mask_key(api_key), mask_secret(secret), True)

    def delete_account(self, name: str) -> None:
        """Remove account ``name`` and its secrets (unknown name: ``ConfigurationError``)."""
        index = self._index()
        if name not in index:
            known = ", ".join(sorted(index)) or "none"
            raise ConfigurationError(f"no such account (known: {known})", key=f"accounts.{name}")
        self._store.delete(_key_entry(name))
        self._store.delete(_secret_entry(name))
        del index[name]
        self._save_index(index)
        log.info("account %r deleted from the keyring", name)

    def credentials(self, name: str) -> Credentials:
        """The raw key pair of ``name`` for a broker adapter (never display or log it)."""
        index = self._index()
        if name not in index:
            raise ConfigurationError("no such account", key=f"accounts.{name}")
        key = self._store.get(_key_entry(name))
        secret = self._store.get(_secret_entry(name))
        if not key or not secret:
            raise SecretStoreError("the key or secret is missing from the keyring", key=name)
        return Credentials(name, index[name], key, secret)
