"""A datastore like production's: values stringified, TTLs honoured, local keys prefixed per class."""
from __future__ import annotations

import time
from types import SimpleNamespace

SEPARATOR = ":"


class MockDatastoreService:
    def __init__(self, logger=None, pack_name="tests", class_name="Mock", api_username=None, clock=time.time):
        self._pack = pack_name
        self._class = class_name
        self._data: dict[str, tuple[str, float | None]] = {}
        self.clock = clock
        self.fail = False   # tests flip this to simulate the API being down

    def _key(self, name, local):
        return f"{self._pack}.{self._class}{SEPARATOR}{name}" if local else name

    def _check(self):
        if self.fail:
            raise ConnectionError("st2 API unavailable")

    def get_value(self, name, local=True, scope="system", decrypt=False):
        self._check()
        if scope != "system":
            raise ValueError(f'Scope "{scope}" is not valid. Valid scopes are: system')
        item = self._data.get(self._key(name, local))
        if item is None:
            return None
        value, expires = item
        if expires is not None and self.clock() >= expires:
            del self._data[self._key(name, local)]
            return None
        return value

    def set_value(self, name, value, ttl=None, local=True, scope="system", encrypt=False):
        self._check()
        if scope != "system":
            raise ValueError(f'Scope "{scope}" is not valid. Valid scopes are: system')
        self._data[self._key(name, local)] = (str(value), self.clock() + ttl if ttl else None)
        return True

    def delete_value(self, name, local=True, scope="system"):
        self._check()
        return self._data.pop(self._key(name, local), None) is not None

    def list_values(self, local=True, prefix=None, limit=None, offset=0):
        self._check()
        full_prefix = self._key(prefix or "", local)
        names = sorted(k for k in self._data if k.startswith(full_prefix))
        out = []
        for k in names:
            v = self.get_value(k, local=False)
            if v is not None:
                out.append(SimpleNamespace(name=k, value=v))
        return out[offset: (offset + limit) if limit else None]

    def get_user_info(self):
        return {"username": "stanley", "rbac": {"is_admin": True}}
