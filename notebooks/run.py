"""Execute every notebook here top to bottom (CI runs this); any cell error fails the run.

    python notebooks/run.py [--write]   # --write keeps the fresh outputs in the files
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
TIMEOUT_SECONDS = 300


def main(argv: list[str]) -> int:
    write = "--write" in argv
    for path in sorted(HERE.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory() as scratch:
            client = NotebookClient(
                notebook,
                timeout=TIMEOUT_SECONDS,
                kernel_name="python3",
                resources={"metadata": {"path": scratch}},
            )
            client.execute()
        print(f"{path.name}: ran {len(notebook.cells)} cells")
        if write:
            nbformat.write(notebook, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
