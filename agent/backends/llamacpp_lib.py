"""The parts of llama.cpp (through llama-cpp-python's ctypes bindings) the backend uses.

llama-cpp-python's high-level `Llama` class samples inside llama.cpp and hides what the
protocol needs (the raw logits of every step, one layer's hidden states, per-context
adapter switching, KV trimming for a prompt-prefix cache), so this module speaks the C
API directly: a model (`LlamaModel`: weights, vocabulary, chat template), a context on it
(`LlamaContext`: KV cache, batched decode, logits, LoRA adapters), an eval-callback tap
that copies one named tensor (`LayerTap`), and a grammar constraint (`Grammar`).

Everything here is CPU-thread-safe only under the caller's lock. Handles are freed by
`close()`; the model outlives its contexts and adapters.
"""

from __future__ import annotations

import ctypes
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from agent.backends.base import BackendError

GGML_TYPE_F32 = 0


class _TensorHeader(ctypes.Structure):
    # The head of ggml's `struct ggml_tensor` (ggml.h), stable across ggml versions:
    # type, buffer, ne[4], nb[4]. Only the shape and strides are read from it.
    _fields_ = [
        ("type", ctypes.c_int),
        ("buffer", ctypes.c_void_p),
        ("ne", ctypes.c_int64 * 4),
        ("nb", ctypes.c_size_t * 4),
    ]


@lru_cache(maxsize=1)
def lib() -> Any:
    """llama_cpp's bindings, the backend initialised once and its logging silenced."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise BackendError(
            "the llamacpp backend needs llama-cpp-python: run `make setup-llamacpp` "
            "(builds from source, ~5 minutes on 2 cores), or use model.backend = hf"
        ) from exc
    llama_cpp.llama_backend_init()
    # llama.cpp logs every load and context to stderr; errors surface as return codes.
    callback = llama_cpp.llama_log_callback(lambda level, text, user: None)
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    _keep.append(callback)
    return llama_cpp


_keep: list[Any] = []  # ctypes callbacks must outlive every call into C that may use them


@lru_cache(maxsize=1)
def ggml() -> Any:
    """libggml with the few tensor functions the layer tap calls."""
    lib()
    try:
        from llama_cpp._ggml import libggml
    except ImportError:  # pragma: no cover - older layouts: load it from the package
        import llama_cpp

        libggml = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml.so"))
    libggml.ggml_get_name.restype = ctypes.c_char_p
    libggml.ggml_get_name.argtypes = [ctypes.c_void_p]
    libggml.ggml_backend_tensor_get.restype = None
    libggml.ggml_backend_tensor_get.argtypes = [
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t
    ]  # fmt: skip
    return libggml


class LlamaModel:
    """A GGUF model loaded (memory-mapped) by llama.cpp, with its vocabulary."""

    def __init__(self, path: Path):
        llama = lib()
        params = llama.llama_model_default_params()
        params.n_gpu_layers = 0  # CPU: the backend is chosen where no CUDA is used
        self.path = Path(path)
        self.ptr = llama.llama_model_load_from_file(str(self.path).encode(), params)
        if not self.ptr:
            raise BackendError(f"llama.cpp could not load {self.path}: not a GGUF model it knows?")
        self.vocab = llama.llama_model_get_vocab(self.ptr)
        self.n_vocab = int(llama.llama_vocab_n_tokens(self.vocab))
        self.n_layer = int(llama.llama_model_n_layer(self.ptr))
        self.n_embd = int(llama.llama_model_n_embd(self.ptr))
        self.n_ctx_train = int(llama.llama_model_n_ctx_train(self.ptr))
        self._pieces: dict[tuple[int, bool], bytes] = {}

    @property
    def chat_template(self) -> str | None:
        raw = lib().llama_model_chat_template(self.ptr, None)
        return raw.decode("utf-8") if raw else None

    def meta(self, key: str) -> str | None:
        """A GGUF metadata value as text (`general.file_type` → "15"), or None."""
        llama = lib()
        buf = ctypes.create_string_buffer(256)
        n = llama.llama_model_meta_val_str(self.ptr, key.encode(), buf, len(buf))
        if n < 0:
            return None
        if n >= len(buf):
            buf = ctypes.create_string_buffer(n + 1)
            llama.llama_model_meta_val_str(self.ptr, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", errors="replace")

    @property
    def file_type(self) -> int | None:
        """llama.cpp's `llama_ftype` of the weights (15: Q4_K_M), from the metadata."""
        value = self.meta("general.file_type")
        return int(value) if value is not None and value.isdigit() else None

    def special_tokens(self) -> dict[str, str]:
        """bos/eos token texts, as chat templates expect them."""
        llama = lib()
        out = {}
        for key, token in (("bos_token", llama.llama_vocab_bos(self.vocab)),
                           ("eos_token", llama.llama_vocab_eos(self.vocab))):  # fmt: skip
            if token >= 0:
                out[key] = self.piece(int(token), special=True).decode("utf-8", errors="replace")
        return out

    def is_eog(self, token: int) -> bool:
        return bool(lib().llama_vocab_is_eog(self.vocab, token))

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text`; special tokens written in it (`<|im_start|>`) are parsed as
        such and none are added (chat templates write their own)."""
        llama = lib()
        data = text.encode("utf-8")
        size = len(data) + 16
        buf = (llama.llama_token * size)()
        n = llama.llama_tokenize(self.vocab, data, len(data), buf, size, False, True)
        if n < 0:  # pragma: no cover - the buffer is always large enough for BPE
            size = -n
            buf = (llama.llama_token * size)()
            n = llama.llama_tokenize(self.vocab, data, len(data), buf, size, False, True)
        return list(buf[:n])

    def piece(self, token: int, special: bool = False) -> bytes:
        """The token's bytes; control tokens are empty unless `special`."""
        key = (token, special)
        cached = self._pieces.get(key)
        if cached is not None:
            return cached
        llama = lib()
        buf = ctypes.create_string_buffer(64)
        n = llama.llama_token_to_piece(self.vocab, token, buf, 64, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama.llama_token_to_piece(self.vocab, token, buf, -n, 0, special)
        piece = buf.raw[:n]
        self._pieces[key] = piece
        return piece

    def close(self) -> None:
        if self.ptr:
            lib().llama_model_free(self.ptr)
            self.ptr = None


def quantize(source: Path, out: Path, file_type: int, threads: int) -> None:
    """Quantize the GGUF `source` (f16/bf16/f32 weights) to llama.cpp's `file_type`
    (a `llama_ftype`, e.g. 15 = Q4_K_M) at `out`, choosing per-tensor types exactly as
    `llama-quantize` does (k-quants fall back where a row length is not a multiple of
    256, some tensors get more bits)."""
    llama = lib()
    params = llama.llama_model_quantize_default_params()
    params.nthread = threads
    params.ftype = file_type
    code = llama.llama_model_quantize(str(source).encode(), str(out).encode(),
                                      ctypes.byref(params))  # fmt: skip
    if code != 0 or not Path(out).is_file():
        raise BackendError(f"llama.cpp could not quantize {source} to file type {file_type} "
                           f"(code {code})")  # fmt: skip


class LoraAdapter:
    """A GGUF LoRA adapter loaded for a model (applied per context)."""

    def __init__(self, model: LlamaModel, path: Path):
        self.path = Path(path)
        self.scale = 1.0
        self.ptr = lib().llama_adapter_lora_init(model.ptr, str(self.path).encode())
        if not self.ptr:
            raise BackendError(
                f"llama.cpp could not load the adapter {self.path}: not a LoRA of this model?"
            )

    def close(self) -> None:
        if self.ptr:
            lib().llama_adapter_lora_free(self.ptr)
            self.ptr = None


class LayerTap:
    """llama.cpp's eval callback: keeps the last row of one named tensor of each graph
    evaluation (`l_out-16`: the output of decoder layer 16). `target = None` keeps
    nothing; llama.cpp then asks about every node and computes the graph in one piece."""

    def __init__(self) -> None:
        self.target: bytes | None = None
        self.row: np.ndarray | None = None
        self.error: str | None = None
        self._ggml = ggml()
        self.callback = lib().ggml_backend_sched_eval_callback(self._on_tensor)

    def _on_tensor(self, tensor: int, ask: bool, _user: int) -> bool:
        # Exceptions must not escape into C: they would cancel the graph computation.
        try:
            if ask:
                return self.target is not None and self._ggml.ggml_get_name(tensor) == self.target
            head = _TensorHeader.from_address(tensor)
            if head.type != GGML_TYPE_F32:
                self.error = f"tensor {self.target!r} is of ggml type {head.type}, not f32"
                return True
            width, rows = int(head.ne[0]), int(head.ne[1])
            row = np.empty(width, dtype=np.float32)
            offset = (rows - 1) * int(head.nb[1])
            self._ggml.ggml_backend_tensor_get(tensor, row.ctypes.data, offset, width * 4)
            self.row = row
        except Exception as exc:  # pragma: no cover - defensive
            self.error = f"{type(exc).__name__}: {exc}"
        return True


class LlamaContext:
    """One llama.cpp context on a model: a KV cache for one sequence, batched decoding."""

    def __init__(self, model: LlamaModel, n_ctx: int, n_threads: int, n_batch: int = 512,
                 tap: LayerTap | None = None):  # fmt: skip
        llama = lib()
        params = llama.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_seq_max = 1
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        params.no_perf = True
        if tap is not None:
            params.cb_eval = tap.callback
        self.model = model
        self.ptr = llama.llama_init_from_model(model.ptr, params)
        if not self.ptr:
            raise BackendError(f"llama.cpp could not create a context of {n_ctx} tokens")
        self.n_ctx = int(llama.llama_n_ctx(self.ptr))
        self.n_batch = n_batch
        self.memory = llama.llama_get_memory(self.ptr)
        self.batch = llama.llama_batch_init(n_batch, 0, 1)
        self.adapter: LoraAdapter | None = None
        self._applied: tuple[LoraAdapter | None, float | None] = (None, None)

    def decode(self, tokens: list[int], start: int) -> None:
        """Evaluate `tokens` at positions start…; logits are kept for the last one only."""
        llama = lib()
        batch = self.batch
        for at in range(0, len(tokens), self.n_batch):
            chunk = tokens[at : at + self.n_batch]
            last = at + len(chunk) == len(tokens)
            batch.n_tokens = len(chunk)
            for i, token in enumerate(chunk):
                batch.token[i] = token
                batch.pos[i] = start + at + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = last and i == len(chunk) - 1
            code = llama.llama_decode(self.ptr, batch)
            if code != 0:
                raise BackendError(
                    f"llama.cpp failed to evaluate {len(chunk)} tokens at position "
                    f"{start + at} (code {code}; the context holds {self.n_ctx} tokens)"
                )

    def logits(self) -> np.ndarray:
        """A copy of the last evaluated position's logits (float32 [vocab])."""
        ptr = lib().llama_get_logits_ith(self.ptr, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.model.n_vocab,)).copy()

    def keep(self, n: int) -> None:
        """Drop the KV cache from position n on (n = 0 clears it)."""
        llama = lib()
        if n <= 0:
            llama.llama_memory_clear(self.memory, True)
        elif not llama.llama_memory_seq_rm(self.memory, 0, n, -1):
            llama.llama_memory_clear(self.memory, True)
            raise BackendError("llama.cpp could not trim its KV cache; it was cleared")

    def set_adapter(self, adapter: LoraAdapter | None) -> None:
        """Apply `adapter` at its scale (1 unless changed: PEFT's alpha / r is in the
        converted tensors) or none."""
        applied = (adapter, adapter.scale if adapter is not None else None)
        if applied == self._applied:
            return
        llama = lib()
        if adapter is None:
            code = llama.llama_set_adapters_lora(self.ptr, None, 0, None)
        else:
            adapters = (llama.llama_adapter_lora_p_ctypes * 1)(adapter.ptr)
            scales = (ctypes.c_float * 1)(adapter.scale)
            code = llama.llama_set_adapters_lora(self.ptr, adapters, 1, scales)
        if code != 0:
            raise BackendError(f"llama.cpp refused the adapter (code {code})")
        self.adapter = adapter
        self._applied = applied

    def close(self) -> None:
        if self.ptr:
            llama = lib()
            llama.llama_batch_free(self.batch)
            llama.llama_free(self.ptr)
            self.ptr = None


class Grammar:
    """A GBNF grammar as a constraint on the next token, advanced token by token."""

    def __init__(self, model: LlamaModel, text: str, root: str = "root"):
        llama = lib()
        self.ptr = llama.llama_sampler_init_grammar(model.vocab, text.encode(), root.encode())
        if not self.ptr:
            raise ValueError("the grammar does not parse as GBNF (llama.cpp refused it)")
        self.n_vocab = model.n_vocab
        self._one = (llama.llama_token_data * 1)()
        self._all = (llama.llama_token_data * model.n_vocab)()
        self._all_view = np.ctypeslib.as_array(self._all)
        self._ids = np.arange(model.n_vocab, dtype=np.int32)

    def _apply(self, data: Any, size: int) -> None:
        llama = lib()
        array = llama.llama_token_data_array(data, size, -1, False)
        llama.llama_sampler_apply(self.ptr, ctypes.byref(array))

    def allowed(self, token: int) -> bool:
        self._one[0].id = token
        self._one[0].logit = 0.0
        self._one[0].p = 0.0
        self._apply(self._one, 1)
        return bool(np.isfinite(self._one[0].logit))

    def mask(self) -> np.ndarray:
        view = self._all_view
        view["id"] = self._ids
        view["logit"] = 0.0
        view["p"] = 0.0
        self._apply(self._all, self.n_vocab)
        ok = np.zeros(self.n_vocab, dtype=bool)
        ok[view["id"][np.isfinite(view["logit"])]] = True
        return ok

    def accept(self, token: int) -> None:
        lib().llama_sampler_accept(self.ptr, token)

    def close(self) -> None:
        if self.ptr:
            lib().llama_sampler_free(self.ptr)
            self.ptr = None
