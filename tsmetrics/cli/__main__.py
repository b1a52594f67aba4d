"""`python -m tsmetrics.cli`: the same as the `tsmetrics` command."""

from tsmetrics.cli import main

main()
