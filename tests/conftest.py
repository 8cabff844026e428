"""Shared pytest setup.

* ``lib/`` goes first on ``sys.path`` so the library under test is this checkout's.
* Fixture modules live in ``tests/plugins/*.py`` (one per server or fake); every fixture they
  define is imported here, so each area adds its fixtures without touching this file.
* ``AISRE_REQUIRE_SERVICES=1`` turns "server binary missing" skips into failures (CI sets it).
"""
from __future__ import annotations

import importlib
import os
import pathlib
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("MPLBACKEND", "Agg")

TESTS = pathlib.Path(__file__).resolve().parent
ROOT = TESTS.parent
for p in (str(ROOT / "lib"), str(TESTS)):
    if p not in sys.path:
        sys.path.insert(0, p)

try:  # real StackStorm test classes when installed, else our interface-compatible shim
    import st2tests.base  # noqa: F401
except ImportError:
    sys.path.insert(0, str(TESTS / "st2shim"))
for _extra in (ROOT / "actions", ROOT / "sensors"):  # st2-run-pack-tests imports adapters by bare name
    if str(_extra) not in sys.path:
        sys.path.append(str(_extra))

for _path in sorted((TESTS / "plugins").glob("*.py")):
    if _path.name.startswith("_"):
        continue
    _mod = importlib.import_module(f"plugins.{_path.stem}")
    for _name in dir(_mod):
        _obj = getattr(_mod, _name)
        if hasattr(_obj, "_pytestfixturefunction") or type(_obj).__name__ == "FixtureFunctionDefinition":
            globals()[_name] = _obj
