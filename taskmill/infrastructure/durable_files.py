"""Swapping a file in so that a power cut leaves the old one or the complete new one."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_file(path: Path) -> None:
    """Force the file's contents to disk (a view built without fsync, say)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def replace_durably(source: Path, target: Path) -> None:
    """`os.replace(source, target)` once `source` is on disk, and the rename itself too."""
    fsync_file(source)
    os.replace(source, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
