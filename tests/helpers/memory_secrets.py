"""An in-memory ``SecretStore`` (the keyring's role) for tests of the keyring's users."""

from __future__ import annotations

from stom_desktop.adapters.secrets import BackendInfo


class MemorySecretStore:
    """Secrets in a dict (``values`` seeds it).

    ``secure=False`` behaves like the plaintext keyring (works, NOT encrypted);
    ``available=False`` plays a machine without any keyring.
    """

    def __init__(
        self,
        values: dict[str, str] | None = None,
        *,
        secure: bool = True,
        available: bool = True,
    ) -> None:
        self.values: dict[str, str] = dict(values or {})
        self.secure = secure
        self.available = available

    def backend_info(self) -> BackendInfo:
        if not self.available:
            return BackendInfo("fail.Keyring", False, False, "no keyring backend is available")
        warning = None if self.secure else "memory store: NOT encrypted (test)"
        return BackendInfo("tests.MemorySecretStore", True, self.secure, warning)

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def delete(self, key: str) -> bool:
        return self.values.pop(key, None) is not None
