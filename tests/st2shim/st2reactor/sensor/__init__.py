"""Test shim for st2reactor (interfaces only)."""
