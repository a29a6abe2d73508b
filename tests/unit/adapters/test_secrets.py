"""KeyringSecretStore against real keyring backends: a tmp_path file keyring and fail.Keyring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring

from stom_desktop.adapters.secrets import (
    SERVICE_NAME,
    KeyringSecretStore,
    SecretStoreError,
    describe_backend,
)


@pytest.fixture()
def file_keyring(tmp_path: Path) -> Iterator[PlaintextKeyring]:
    previous = keyring.get_keyring()
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")  # type: ignore[misc]
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_round_trip_in_a_file_keyring(file_keyring: PlaintextKeyring) -> None:
    store = KeyringSecretStore()
    assert store.get("binance:secret") is None
    store.set("binance:secret", "s3cr3t-value")
    assert store.get("binance:secret") == "s3cr3t-value"
    # stored under the stom-desktop service in the process-wide keyring
    assert keyring.get_password(SERVICE_NAME, "binance:secret") == "s3cr3t-value"
    assert store.delete("binance:secret") is True
    assert store.get("binance:secret") is None
    assert store.delete("binance:secret") is False


def test_plaintext_backend_is_flagged_insecure(
    file_keyring: PlaintextKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    info = KeyringSecretStore().backend_info()
    assert info.available and not info.secure
    assert info.warning is not None and "NOT encrypted" in info.warning
    assert "PlaintextKeyring" in info.name
    assert any("NOT encrypted" in r.getMessage() for r in caplog.records)


def test_fail_keyring_raises_a_clear_error() -> None:
    store = KeyringSecretStore(backend=fail.Keyring())
    info = store.backend_info()
    assert not info.available and info.warning is not None
    with pytest.raises(SecretStoreError, match="no OS keyring is available"):
        store.set("x:secret", "value")
    with pytest.raises(SecretStoreError, match="stom-desktop/x:secret"):
        store.get("x:secret")


class _SecureMemoryKeyring(KeyringBackend):
    """A keyring backend that claims to be secure (stands in for an OS keyring)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.data[(service, username)]


def test_other_backends_count_as_secure() -> None:
    info = describe_backend(_SecureMemoryKeyring())
    assert info.available and info.secure and info.warning is None
