"""Warmline benchmark suite: ``python -m bench`` (or ``make bench``); see ``bench/__main__.py --help``."""
