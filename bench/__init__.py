"""The benchmark harness: `make bench` runs every registered benchmark and writes
docs/benchmarks.md. Figures are ratios against a baseline measured in the same run."""
