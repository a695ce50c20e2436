"""Prometheus HTTP API -> raw_telemetry (placeholder until the collector lands)."""
