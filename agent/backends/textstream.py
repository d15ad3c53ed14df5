"""A reply's text as tokens arrive: stop strings, streamed deltas, cancellation.

For backends that produce token *bytes* (llama.cpp's pieces): the text is the UTF-8
decoding of all bytes so far, with a partial character shown as U+FFFD until its last
byte arrives — what a Hugging Face tokenizer's `decode(ids, skip_special_tokens=True)`
gives for the same tokens (control tokens contribute no bytes). `StopText` is the part
both backends share (the `hf` backend's DecodeTrace builds on it): the text ends before the earliest stop
string; streamed text never shows a stop string or half a character; `kept_tokens` counts
the tokens that start before the cut.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

TextCallback = Callable[[str], None]


class StopText:
    """The text side both backends share: the reply so far, cut before the earliest stop
    string, streamed in deltas that never show a stop string or half a character, and
    cancellation. Subclasses say how tokens become text and call `_update`."""

    def __init__(
        self,
        stop: list[str],
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ):
        self.stop = [s for s in stop if s]
        self.on_text = on_text
        self.cancel = cancel
        self.text = ""
        self.cut: int | None = None  # index in `text` where a stop string begins
        self.stopped_by: str | None = None  # "stop" | "cancel"
        self._emitted = 0
        self._holdback = max((len(s) for s in self.stop), default=1) - 1

    def _update(self, text: str) -> bool:
        """Take the whole text so far; True when generation must stop after this token."""
        previous = len(self.text)
        self.text = text
        if self.stop:
            start = max(0, previous - self._holdback - 4)
            hits = [i for i in (self.text.find(s, start) for s in self.stop) if i >= 0]
            if hits:
                self.cut = min(hits)
                self.stopped_by = "stop"
                self._emit(final=True)
                return True
        self._emit(final=False)
        return self._cancelled()

    def _cancelled(self) -> bool:
        if self.cancel is not None and self.cancel.is_set():
            self.stopped_by = "cancel"
            return True
        return False

    def _emit(self, final: bool) -> None:
        if self.on_text is None:
            return
        end = self.cut if self.cut is not None else len(self.text)
        if not final:
            # Hold back what could still become a stop string, and a trailing partial
            # character (decoded as U+FFFD until its last byte arrives).
            end = max(self._emitted, end - self._holdback)
            while end > self._emitted and self.text[end - 1] == "\ufffd":
                end -= 1
        if end > self._emitted:
            self.on_text(self.text[self._emitted : end])
            self._emitted = end

    def flush(self) -> None:
        """Emit the rest of the text once generation has ended."""
        self._emit(final=True)

    @property
    def final_text(self) -> str:
        return self.text if self.cut is None else self.text[: self.cut]


class TextStream(StopText):
    """Token *bytes* in (llama.cpp's pieces), text out."""

    def __init__(
        self,
        stop: list[str],
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ):
        super().__init__(stop, on_text, cancel)
        self._bytes = bytearray()
        self._offsets: list[int] = []  # byte offset where each token's bytes start

    def add(self, piece: bytes) -> bool:
        """Append one token's bytes; True when generation must stop after it."""
        self._offsets.append(len(self._bytes))
        self._bytes += piece
        return self._update(self._bytes.decode("utf-8", errors="replace"))

    def kept_tokens(self) -> int:
        """Tokens that start before the stop string (all of them without one)."""
        if self.cut is None:
            return len(self._offsets)
        kept = 0
        for k, offset in enumerate(self._offsets):
            start = len(bytes(self._bytes[:offset]).decode("utf-8", errors="replace"))
            if start >= self.cut:
                break
            kept = k + 1
        return kept
