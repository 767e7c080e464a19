"""`python -m taskmill`: the command line."""

from taskmill.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
