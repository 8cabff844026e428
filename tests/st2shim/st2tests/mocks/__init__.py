"""Test shim for st2tests (the pack-test base classes only)."""
