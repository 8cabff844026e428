from __future__ import annotations

import inspect
import os
import unittest


class BasePackResourceTestCase(unittest.TestCase):
    """Finds the pack root as the parent of the tests directory holding the test module."""

    def get_fixture_content(self, fixture_path):
        base = os.path.join(self._pack_root(), "tests", "fixtures")
        with open(os.path.join(base, fixture_path), encoding="utf-8") as fh:
            return fh.read()

    def _pack_root(self):
        path = os.path.abspath(inspect.getfile(type(self)))
        d = os.path.dirname(path)
        while d != os.path.dirname(d):
            if os.path.exists(os.path.join(d, "pack.yaml")):
                return d
            d = os.path.dirname(d)
        raise RuntimeError("pack.yaml not found above the test module")
