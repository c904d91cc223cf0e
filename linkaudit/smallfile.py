"""Reading the small files a user points linkaudit at (config, baseline), bounded.

``--config /dev/zero``, a FIFO or a directory must give one error line, not a
hang or gigabytes of memory: the file is opened without blocking, must be a
regular file, and is read up to a size limit.  Whatever parses it then must
turn deep nesting (``[[[[...``) and huge integers into the same kind of error.
"""

from __future__ import annotations

import os
import stat

from linkaudit.errors import ConfigError

CONFIG_LIMIT = 1 << 20  # 1 MiB: a [tool.linkaudit] table or a pyproject.toml is a few KB
BASELINE_LIMIT = 16 << 20  # 16 MiB: about 130,000 recorded findings


def read_bounded(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else raises :class:`ConfigError`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise ConfigError(f"{_name(path)}: {what} file not found") from None
    except OSError as exc:
        raise ConfigError(f"{_name(path)}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise ConfigError(f"{_name(path)}: cannot read {what}: {kind}")
        if st.st_size > limit:
            raise ConfigError(f"{_name(path)}: {what} file is too large ({st.st_size} bytes; the limit is {limit})")
        chunks: list[bytes] = []
        total = 0
        while True:  # bounded even if the file grows while it is read
            chunk = os.read(fd, min(1 << 16, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise ConfigError(f"{_name(path)}: {what} file is too large (more than {limit} bytes)")
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(f"{_name(path)}: cannot read {what}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def decode_utf8(data: bytes, path: str | os.PathLike[str], what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{_name(path)}: {what} is not valid UTF-8 (byte {exc.start})") from None


def _name(path: str | os.PathLike[str]) -> str:
    return os.fsdecode(path)


def first_clause(exc: BaseException) -> str:
    """The first sentence of a parser's message (Python's integer-digits error runs on with advice)."""
    return str(exc).split(";")[0].splitlines()[0] if str(exc) else type(exc).__name__
