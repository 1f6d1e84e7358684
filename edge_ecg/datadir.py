"""Where the PhysioNet databases live, and whether a copy is intact.

One setting finds the data: ``--data-dir DIR`` or the ``EDGE_ECG_DATA`` environment variable,
where ``DIR`` holds one folder per database (``DIR/mitdb``, ``DIR/nstdb``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import DataError, InputError

ENV = "EDGE_ECG_DATA"
#: PhysioNet database -> published version (the folder of its SHA256SUMS.txt).
DATABASES = {"mitdb": "1.0.0", "nstdb": "1.0.0"}
SUMS_NAMES = ("SHA256SUMS", "SHA256SUMS.txt")


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    """The data directory from the option, else ``EDGE_ECG_DATA``; error if neither exists."""
    chosen = data_dir if data_dir is not None else os.environ.get(ENV)
    if not chosen:
        raise DataError(
            f"no data directory: pass --data-dir DIR or set {ENV}=DIR "
            "(download with: edge-ecg data fetch --data-dir DIR)"
        )
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataError(
            f"data directory {path} does not exist "
            f"(download with: edge-ecg data fetch --data-dir {path})"
        )
    return path


def database_dir(data_dir: str | os.PathLike[str] | None, db: str = "mitdb") -> Path:
    """Folder of one database inside the data directory, checked to exist."""
    if db not in DATABASES:
        raise InputError(f"unknown database {db!r}: choose one of {', '.join(DATABASES)}")
    root = resolve_data_dir(data_dir)
    path = root / db
    if not path.is_dir():
        raise DataError(
            f"database folder {path} is missing "
            f"(download with: edge-ecg data fetch --db {db} --data-dir {root})"
        )
    return path


def read_sums(folder: Path) -> dict[str, str]:
    """File name -> expected sha256 from the folder's published SHA256SUMS."""
    for name in SUMS_NAMES:
        sums = folder / name
        if sums.is_file():
            break
    else:
        raise DataError(f"{folder}: no SHA256SUMS file; re-download with edge-ecg data fetch")
    expected: dict[str, str] = {}
    for n, line in enumerate(sums.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(f"{sums}:{n}: not a 'sha256  file' line")
        expected[parts[1].strip().lstrip("*")] = parts[0].lower()
    return expected


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_database(folder: Path) -> list[str]:
    """Problems found in a database copy (missing or altered files); empty when intact."""
    problems = []
    for name, digest in sorted(read_sums(folder).items()):
        if "/" in name:  # extras in sub-folders (HTML docs, x_ files) that wfdb does not fetch
            continue
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{path}: sha256 differs from SHA256SUMS (damaged or altered)")
    return problems


def fetch_database(db: str, data_dir: str | os.PathLike[str]) -> Path:
    """Download ``db`` from PhysioNet with wfdb into ``data_dir/db`` and check its checksums."""
    import urllib.request

    import wfdb

    if db not in DATABASES:
        raise InputError(f"unknown database {db!r}: choose one of {', '.join(DATABASES)}")
    folder = Path(data_dir).expanduser() / db
    folder.mkdir(parents=True, exist_ok=True)
    url = f"https://physionet.org/files/{db}/{DATABASES[db]}/SHA256SUMS.txt"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            sums = response.read()
        wfdb.dl_database(db, str(folder))
    except OSError as e:
        raise DataError(f"could not download {db} from PhysioNet ({e}); check the network") from e
    (folder / "SHA256SUMS.txt").write_bytes(sums)
    return folder
