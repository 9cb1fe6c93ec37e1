"""Benchmarks of the bridge: a real Synapse, the fake Bot API server and the bridge as a separate
process, driven only through its command line, config file and HTTP surfaces (``./bench.sh``)."""
