"""`python -m node.cli`: the `orgledger` command."""

from node.cli import main

main()
