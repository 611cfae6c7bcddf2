"""Every artifact a step writes is replaced atomically: written beside its destination, then
renamed into place. A process killed at any instant leaves the previous complete artifact or the
new complete one, never a mix, and a re-run is always safe::

    with replace_file("pairs.csv") as tmp:
        pairs.to_csv(tmp, index=False)
    with replace_dir("index", keep_if="index.json") as tmp:
        np.save(tmp / "embeddings.npy", emb)

How (arxiv-sanity-lite keeps one such place for its writes; this is ours):
- the new version is written to a hidden sibling, ``.NAME.partial``; a file is then moved over
  the old one with ``os.replace`` (atomic on POSIX and Windows);
- a folder is swapped with Linux's ``renameat2(RENAME_EXCHANGE)``, one atomic step, where the
  file system has it; elsewhere the old folder is first renamed to ``.NAME.previous`` and the
  new one into place, and :func:`recover` finishes a swap that a kill interrupted between the
  two renames (every writer and reader calls it first);
- one writer per artifact at a time (an advisory lock on ``.NAME.writing.lock``, removed when
  released), so two runs never write into the same partial; a killed writer's partial is
  removed by the next one;
- a write that fails (disk full, no permission) raises :class:`ArtifactWriteError` naming the
  destination; the previous artifact is untouched and the partial removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

PARTIAL, PREVIOUS, LOCK = ".partial", ".previous", ".lock"


class ArtifactWriteError(OSError):
    """An artifact could not be written; the previous version (if any) is intact."""


def _sibling(dest: Path, tag: str) -> Path:
    # the suffix stays last (".papers.partial.parquet"): some writers (np.save) add their own
    return dest.with_name(f".{dest.stem}{tag}{dest.suffix}") if dest.suffix else dest.with_name(f".{dest.name}{tag}")


def partial_path(dest: str | os.PathLike) -> Path:
    """Where the next version of ``dest`` is written before it is swapped in."""
    return _sibling(Path(dest), PARTIAL)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class Busy(RuntimeError):
    """Another process holds the lock asked for without waiting (``holder``: its pid, if known)."""

    def __init__(self, message: str, holder: int | None = None):
        super().__init__(message)
        self.holder = holder


@contextlib.contextmanager
def exclusive(dest: str | os.PathLike, what: str = "writing", wait: bool = True) -> Iterator[None]:
    """An exclusive advisory lock named for ``dest`` and ``what`` (``.NAME.WHAT.lock`` beside it, a
    word: "writing", "daily"),
    released by the OS if the process dies and removed when released, so no lock file is left
    behind. ``wait=False``: :class:`Busy` at once when another process holds it.

    >>> with exclusive("index.digest.json", "daily", wait=False): run_the_morning()
    """
    try:
        import fcntl
    except ImportError:  # Windows: no flock; a single writer is the user's job there
        yield
        return
    dest = Path(dest)
    path = dest.with_name(f".{dest.name}.{what}{LOCK}")
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # a read-only or lock-less file system: the write itself will say what is wrong
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip()
            os.close(fd)
            pid = int(holder) if holder.isdigit() else None
            raise Busy(f"another process{f' (pid {pid})' if pid else ''} holds {dest} ({what})", pid) from None
        except OSError:  # some network/FUSE file systems refuse flock: carry on unlocked
            break
        try:  # the holder before us may have removed the file we opened: lock the one at the path
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # while still holding it: a waiter that opened it sees the unlink and retries
        os.close(fd)


def _locked(dest: Path):
    """One writer of ``dest`` at a time (a second one waits)."""
    return exclusive(dest, "writing")


def recover(dest: str | os.PathLike) -> None:
    """Finish a folder swap that a killed process left half done (the fallback two-rename swap).

    After it, ``dest`` is the previous complete artifact or the new complete one. Stale partials
    are left for the next writer of ``dest`` to remove (a reader must not delete a partial that
    a live writer is filling).
    """
    dest = Path(dest)
    previous = _sibling(dest, PREVIOUS)
    if not previous.exists():
        return
    with _locked(dest):  # waits for a live writer to finish its swap
        if not previous.exists():
            return
        if not dest.exists():
            # killed between the two renames: the partial was complete (the old folder is only
            # moved aside once the new one is), so roll forward; without it, roll back
            partial = _sibling(dest, PARTIAL)
            os.replace(partial if partial.exists() else previous, dest)
        if previous.exists():
            _remove(previous)


def _fsync(path: Path) -> None:
    """Flush a file or folder entry to disk (a kill cannot lose it; this covers power loss)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # folders on some file systems cannot be fsynced: nothing to gain there
        pass
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # this file system cannot exchange: the two-rename swap below
    raise OSError(err, os.strerror(err), str(b))


def _hint(e: OSError) -> str:
    if e.errno == errno.ENOSPC or e.errno == errno.EDQUOT:
        return "the disk is full; free some space and run again"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "no permission to write there; choose another output path or fix the folder's permissions"
    return "run again once the cause is fixed"


def _failed(dest: Path, e: OSError) -> ArtifactWriteError:
    what = e.strerror or str(e)
    return ArtifactWriteError(
        e.errno, f"could not write {dest}: {what} ({_hint(e)}); "
        f"{'the previous ' + dest.name + ' is unchanged' if dest.exists() else 'nothing was written'}")


@contextlib.contextmanager
def replace_file(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a path to write the new version of file ``dest`` to; on success it replaces
    ``dest`` atomically, on any error ``dest`` is untouched.

    >>> with replace_file("pairs.csv") as tmp: pairs.to_csv(tmp, index=False)
    """
    dest = Path(dest)
    if dest.is_dir():
        raise ArtifactWriteError(errno.EISDIR, f"{dest} is a folder; pass a file name to write to")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _failed(dest, e) from None
    tmp = partial_path(dest)
    with _locked(dest):
        _remove(tmp)
        try:
            yield tmp
            if not tmp.exists():
                raise FileNotFoundError(errno.ENOENT, "the writer produced no file", str(tmp))
            _fsync(tmp)
            os.replace(tmp, dest)
            _fsync(dest.parent)
        except OSError as e:
            _remove(tmp)
            raise _failed(dest, e) from None
        except BaseException:
            _remove(tmp)
            raise


@contextlib.contextmanager
def replace_dir(dest: str | os.PathLike, keep_if: str | Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Yield an empty folder to build the new version of folder ``dest`` in; on success it
    replaces ``dest`` in one atomic swap, on any error ``dest`` is untouched.

    ``keep_if`` guards against replacing a folder that is not this kind of artifact (a file name
    the old folder must contain, or a test): an existing non-empty folder failing it is refused.

    >>> with replace_dir("index", keep_if="index.json") as tmp: np.save(tmp / "embeddings.npy", emb)
    """
    dest = Path(dest)
    recover(dest)
    if dest.exists() and not dest.is_dir():
        raise ArtifactWriteError(errno.ENOTDIR, f"{dest} is a file; pass a folder name to write to")
    if dest.is_dir() and keep_if is not None and any(dest.iterdir()):
        ok = (dest / keep_if).exists() if isinstance(keep_if, str) else keep_if(dest)
        if not ok:
            raise ArtifactWriteError(
                errno.EEXIST, f"{dest} exists and is not an arxiv-reco artifact of this kind; refusing to "
                "replace it (nothing was changed). Choose another output folder or remove it yourself.")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _failed(dest, e) from None
    tmp, previous = _sibling(dest, PARTIAL), _sibling(dest, PREVIOUS)
    with _locked(dest):
        _remove(tmp)
        try:
            tmp.mkdir()
            yield tmp
            for root, _, files in os.walk(tmp):
                for f in files:
                    _fsync(Path(root) / f)
            if not dest.exists():
                os.rename(tmp, dest)
            elif _exchange(tmp, dest):
                _remove(tmp)  # now the old version
            else:
                _remove(previous)
                os.rename(dest, previous)
                os.rename(tmp, dest)
                _remove(previous)
            _fsync(dest.parent)
        except OSError as e:
            _abort(dest, tmp, previous)
            raise _failed(dest, e) from None
        except BaseException:
            _abort(dest, tmp, previous)
            raise


def _abort(dest: Path, tmp: Path, previous: Path) -> None:
    """Undo a failed folder write: the previous version back in place, the partial gone."""
    if not dest.exists() and previous.exists():
        os.rename(previous, dest)
    _remove(tmp)


# ---- the common cases ---------------------------------------------------------------------------
def write_text(dest: str | os.PathLike, text: str) -> Path:
    """Replace a text file atomically."""
    with replace_file(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(dest)


def write_json(dest: str | os.PathLike, obj, **kw) -> Path:
    """Replace a JSON file atomically."""
    return write_text(dest, json.dumps(obj, indent=1, default=str, **kw) + "\n")


def save_figure(fig, dest: str | os.PathLike, dpi: int = 110) -> Path:
    """Replace a PNG (or any format matplotlib infers from the suffix) atomically."""
    dest = Path(dest)
    with replace_file(dest) as tmp:
        fig.savefig(tmp, dpi=dpi, format=dest.suffix.lstrip(".") or "png")
    return dest
