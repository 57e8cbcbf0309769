"""`python -m dumptriage` runs the command line."""

from dumptriage.cli import run

run()
