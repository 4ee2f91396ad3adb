"""Reproducible randomness: one seed per grading run, one independent stream per check.

The run's seed comes from the submission's content and the rubric's salt (instructors keep the salt private, so the
inputs cannot be precomputed); `--seed` overrides it and every report records it. Each check draws from its own
stream keyed by name, so selecting, reordering or adding checks never changes another check's inputs.
"""
from __future__ import annotations

import argparse
import hashlib
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import numpy as np

#: The environment variable through which `grade` hands the seed to its grading process (not its command line,
#: which every user can read in /proc; the plugin removes it before any worker starts).
SEED_VARIABLE = "BACKPROP_GRADER_SEED"


def derive_seed(files: Iterable[Path], salt: str) -> int:
    """A 32-bit seed from the salt and the bytes (and relative names) of the submission's files."""
    digest = hashlib.sha256(salt.encode())
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return int.from_bytes(digest.digest()[:4], "big")


def rng_for(seed: int, key: str) -> np.random.Generator:
    """The random stream of check `key` in the run with `seed`."""
    import numpy as np  # here: the CLI derives seeds without importing NumPy
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def seed_value(text: str) -> int:
    """A seed: an integer from 0 to 2**32 - 1 (what numpy's generators take)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 2**32 - 1")
    return value
