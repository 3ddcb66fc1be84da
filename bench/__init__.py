"""Benchmarks (run as scripts) and the synthetic world they share with the tests."""
