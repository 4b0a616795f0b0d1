"""Offline /summarize benchmark (100 and 2,000 comments; time and peak memory).

    .venv/bin/python bench/summarize.py --repeats 7

The measuring code lives in bot/summarize/bench.py (the tests reuse its synthetic threads);
its docstring and docs/PERFORMANCE.md hold the figures.
"""

import sys

from bot.summarize.bench import main

if __name__ == "__main__":
    sys.exit(main())
