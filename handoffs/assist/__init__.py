"""Assistance for the person after the handoff: pure, deterministic engines (no I/O, no network)."""
