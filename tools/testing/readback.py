"""Bring a file that a command wrote inside the sandbox (under its /tmp) back to the host.

The Sandbox protocol's file access is confined to the workspace, and result files
must not be written there (they would show up in the diff and in snapshots). So the
file is gzipped and base64-encoded in the sandbox and read through `execute` in
chunks small enough to pass the sandbox's output cap untouched; gzip's CRC catches
any corruption. One round trip for the usual case (a result file of a few KB).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import shlex

from sandboxes.base import Sandbox

CHUNK = 12_000
MAX_ENCODED = 64_000_000


class ReadBackError(RuntimeError):
    """The file could not be read back intact."""


def _safe_chunk(sandbox: Sandbox) -> int | None:
    """A chunk size that passes the sandbox's output cap untouched, if the cap is known."""
    settings = getattr(sandbox, "settings", None)
    cap = getattr(settings, "output_cap_bytes", None)
    if isinstance(cap, int) and cap > 0:
        # Output up to the cap passes whole; leave room for the size line.
        return max(256, min(CHUNK, cap - 100))
    return None


def read_back(sandbox: Sandbox, path: str, remove: bool = True) -> bytes | None:
    """The content of `path` inside the sandbox, None if it does not exist."""
    q = shlex.quote(path)
    b64 = shlex.quote(path + ".b64")
    cleanup = f"rm -f {q} {b64}" if remove else f"rm -f {b64}"
    known = _safe_chunk(sandbox)
    chunk = known or CHUNK
    # Where the cap is known, a file that fits in one chunk is read and removed in one go.
    inline_cleanup = f'if [ "$size" -le {chunk} ]; then {cleanup}; fi' if known else "true"
    first = sandbox.execute(
        f"test -f {q} || {{ echo MISSING; exit 0; }}; "
        f"{{ gzip -c {q} 2>/dev/null || cat {q}; }} | base64 -w0 > {b64} || exit 3; "
        f'size=$(wc -c < {b64}); echo "$size"; head -c {chunk} {b64}; {inline_cleanup}',
        timeout=120,
    )
    header, _, body = first.output.partition("\n")
    if header.strip() == "MISSING":
        return None
    if not header.strip().isdigit():
        raise ReadBackError(f"could not encode {path}: {first.output[-300:]}")
    size = int(header)
    cleaned = bool(known) and size <= chunk
    try:
        if size > MAX_ENCODED:
            raise ReadBackError(f"{path} is too large to read back ({size} encoded bytes)")
        pieces: list[str] = []
        offset = 0
        if first.truncated:
            if cleaned:
                raise ReadBackError("the sandbox cut the output below its stated cap")
            chunk = max(256, chunk // 4)
        else:
            pieces.append(body.strip())
            offset = len(pieces[0])
        while offset < size:
            part = sandbox.execute(f"tail -c +{offset + 1} {b64} | head -c {chunk}", timeout=60)
            if part.truncated:
                if chunk <= 256:
                    raise ReadBackError("the sandbox's output cap is too small to read files back")
                chunk //= 2
                continue
            piece = part.output.strip()
            if not piece:
                break
            pieces.append(piece)
            offset += len(piece)
    finally:
        if not cleaned:
            sandbox.execute(cleanup, timeout=30)
    try:
        raw = base64.b64decode("".join(pieces), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ReadBackError(f"{path} came back corrupted: {exc}") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ReadBackError(f"{path} came back corrupted: {exc}") from exc
    return raw
