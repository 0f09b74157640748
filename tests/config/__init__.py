"""Tests of fluvius.config (a package, so its conftest and module names stay unique)."""
