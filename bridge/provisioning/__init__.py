"""The provisioning HTTP API for web front ends and integration managers."""
