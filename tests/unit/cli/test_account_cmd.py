"""``stom account``: API keys into a real file-backed keyring, masked listing, delete."""

from __future__ import annotations

from pathlib import Path

import keyring
from typer.testing import CliRunner

from stom_desktop.adapters.secrets import SERVICE_NAME, SecretStoreError
from stom_desktop.cli.app import app
from stom_desktop.core.errors import ConfigurationError

runner = CliRunner()
KEY = "AKIAxxxxFAKEKEY0123456789abcdef"
SECRET = "s3cr3t-value-that-must-never-print"


def _invoke(*args: str, stdin: str | None = None) -> object:
    return runner.invoke(app, ["account", *args], input=stdin, catch_exceptions=True)


def test_set_list_and_delete_an_account(stom_home: Path, file_keyring: Path) -> None:
    refused = _invoke("set", "main", "--exchange", "binance", "--stdin", stdin=f"{KEY}\n{SECRET}\n")
    assert isinstance(refused.exception, SecretStoreError)  # plaintext keyring needs consent
    stored = _invoke(
        "set", "main", "--exchange", "binance", "--stdin", "--allow-insecure",
        stdin=f"{KEY}\n{SECRET}\n",
    )  # fmt: skip
    assert stored.exit_code == 0, stored.output
    assert keyring.get_password(SERVICE_NAME, "main:api_key") == KEY
    assert keyring.get_password(SERVICE_NAME, "main:secret") == SECRET

    listed = _invoke("list")
    assert listed.exit_code == 0, listed.output
    assert "main" in listed.output and "binance" in listed.output and "yes" in listed.output
    assert "AKIA" in listed.output and "cdef" in listed.output  # masked: ends only
    for output in (stored.output, listed.output):
        assert KEY not in output and SECRET not in output
    # Nothing of the secret lands in the settings or the database either.
    for path in stom_home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data and KEY.encode() not in data, path

    gone = _invoke("delete", "main", "--yes")
    assert gone.exit_code == 0, gone.output
    assert keyring.get_password(SERVICE_NAME, "main:api_key") is None
    assert "main" not in _invoke("list").output.split("Accounts")[1]


def test_bad_exchange_and_unknown_account_are_named(stom_home: Path, file_keyring: Path) -> None:
    bad = _invoke("set", "x", "--exchange", "kraken", "--stdin", stdin="k\ns\n")
    assert isinstance(bad.exception, ConfigurationError) and "kraken" in str(bad.exception)
    missing = _invoke("delete", "nobody", "--yes")
    assert isinstance(missing.exception, ConfigurationError)
    assert "no such account" in str(missing.exception)
