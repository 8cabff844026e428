"""Test shim for st2common (interfaces only)."""
