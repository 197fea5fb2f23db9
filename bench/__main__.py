"""Run the benchmarks: `python -m bench [NAME ...]` (what `make bench` does)."""

from __future__ import annotations

import sys

from bench.harness import main

sys.exit(main(sys.argv[1:]))
