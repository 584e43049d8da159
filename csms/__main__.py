"""``python -m csms``: the operator command line."""

from csms.cli import main

main()
