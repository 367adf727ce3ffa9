"""Shared sandbox state lives in the per-vendor apps."""
