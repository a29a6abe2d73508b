"""AccountService: masked listing, insecure-backend refusal, delete, credentials never in repr."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring

from stom_desktop.adapters.secrets import KeyringSecretStore, SecretStoreError
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.services.account_service import AccountService, mask_key, mask_secret

KEY = "AKIAEXAMPLEKEY0123456789"
SECRET = "very-secret-value-0001"


@pytest.fixture()
def service(tmp_path: Path) -> AccountService:
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")  # type: ignore[misc]
    return AccountService(KeyringSecretStore(backend=backend))


def test_masking_never_shows_the_secret() -> None:
    assert mask_key(KEY) == "AKIA" + "\u2022" * 8 + "6789"
    assert mask_key("short") == "\u2022" * 8
    assert SECRET[:3] not in mask_secret(SECRET)
    assert mask_secret("") == ""


def test_insecure_backend_refuses_without_consent(service: AccountService) -> None:
    with pytest.raises(SecretStoreError, match="NOT encrypted"):
        service.set_account("main", KEY, SECRET, exchange="binance")
    assert service.list_accounts() == []


def test_store_list_credentials_delete(service: AccountService, tmp_path: Path) -> None:
    info = service.set_account("main", KEY, SECRET, exchange="binance", allow_insecure=True)
    assert info.api_key_masked.startswith("AKIA") and SECRET not in repr(info)
    service.set_account("alt.2", "k" * 20, "s" * 20, exchange="upbit", allow_insecure=True)
    listed = service.list_accounts()
    assert [a.name for a in listed] == ["alt.2", "main"]
    assert all(a.complete for a in listed)
    assert all(SECRET not in str(a) and KEY not in str(a) for a in listed)
    creds = service.credentials("main")
    assert (creds.api_key, creds.secret, creds.exchange) == (KEY, SECRET, "binance")
    assert SECRET not in repr(creds) and KEY not in repr(creds)
    service.delete_account("main")
    assert [a.name for a in service.list_accounts()] == ["alt.2"]
    with pytest.raises(ConfigurationError, match=r"accounts\.main"):
        service.credentials("main")
    with pytest.raises(ConfigurationError, match="no such account"):
        service.delete_account("main")


@pytest.mark.parametrize(
    ("name", "key", "secret", "match"),
    [
        ("", KEY, SECRET, "account name"),
        ("has space", KEY, SECRET, "account name"),
        ("ok", "", SECRET, "both the API key and the secret"),
        ("ok", KEY, "  ", "both the API key and the secret"),
    ],
)
def test_invalid_input_is_refused(
    service: AccountService, name: str, key: str, secret: str, match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        service.set_account(name, key, secret, allow_insecure=True)


def test_no_keyring_is_a_clear_error() -> None:
    service = AccountService(KeyringSecretStore(backend=fail.Keyring()))
    assert service.backend_status().available is False
    with pytest.raises(SecretStoreError, match="no OS keyring"):
        service.set_account("main", KEY, SECRET, allow_insecure=True)
    with pytest.raises(SecretStoreError, match="no OS keyring"):
        service.list_accounts()
