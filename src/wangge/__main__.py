"""`python -m wangge …` runs the command line (as the `wangge` script does)."""

from wangge.cli import main

main()
