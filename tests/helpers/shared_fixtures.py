"""Fixtures many test folders share (loaded as a plugin by ``tests/conftest.py``).

* ``file_keyring``: a real keyrings.alt ``PlaintextKeyring`` in ``tmp_path`` set as the
  process-wide keyring for the test (what ``KeyringSecretStore()`` then uses); yields the
  file's path, so a test can check what was (or was not) written to it.
* ``server``: a local threaded pytest-httpserver answering 404 to anything not expected
  (the default 500 would look like a venue outage to ccxt) for fake venues and Bot APIs.
* ``app``: the real composition root on the test's empty ``STOM_HOME``, closed afterwards.

A test module or conftest that defines a fixture of the same name overrides these.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring
from pytest_httpserver import HTTPServer

if TYPE_CHECKING:
    from stom_desktop.bootstrap import App


@pytest.fixture()
def file_keyring(tmp_path: Path) -> Iterator[Path]:
    """A plaintext file keyring as the default keyring; yields its file's path."""
    previous = keyring.get_keyring()
    backend = PlaintextKeyring()
    path = tmp_path / "keyring" / "keyring.cfg"
    backend.file_path = str(path)  # type: ignore[misc]
    keyring.set_keyring(backend)
    yield path
    keyring.set_keyring(previous)


@pytest.fixture()
def server() -> Iterator[HTTPServer]:
    """A local threaded HTTP server; unexpected requests get 404."""
    srv = HTTPServer(host="127.0.0.1", threaded=True)
    srv.no_handler_status_code = 404  # the default 500 would look like a venue outage
    srv.start()
    yield srv
    srv.clear()
    srv.stop()


@pytest.fixture()
def app() -> Iterator[App]:
    """The real App (settings, database, strategies) on the test's own ``STOM_HOME``."""
    # Imported here: every test run loads this plugin, few tests need the whole app.
    from stom_desktop.bootstrap import build_app

    ctx = build_app()
    yield ctx
    ctx.close()
