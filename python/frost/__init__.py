"""frost — Python binding of the Frozen in Time video–text dual encoder (Bain et al., ICCV 2021).

A thin ctypes layer over the C API of ``libfrost.so`` (``include/frost/frost.h``): no compiler is needed to
install it, only the shared library at run time.

    import frost
    with frost.Model("fit.safetensors") as model:
        text = model.encode_text(["a dog runs on the beach", "a cooking show"])   # (2, dim) float32
        video = model.encode_video("clip.mp4")                                   # (1, dim) float32
        scores = frost.similarity(text, video)                                   # (2, 1) float32, cosine

Finding the library: the environment variable ``FROST_LIBRARY`` (a path to ``libfrost.so``) if set, else
``ctypes.util.find_library("frost")`` (the system's library path, ``ldconfig``). Importing fails with an
ImportError saying so when neither gives a loadable library, or when the library's API version is not the
one this module was written for (``API_VERSION``).

Conventions (as the C API's):

- Embeddings are ``numpy.float32`` arrays of shape ``(N, dim)``, C-contiguous, one row per input, as the
  model outputs them (not normalised; :func:`similarity` and :class:`Index` normalise).
- Every failure of the library raises :class:`Error`, whose ``status`` is the ``frost_status`` name
  (``"FROST_BAD_FILE"``, ...) and whose message is the library's (naming the argument, file or shape).
  Arguments this module cannot pass to the library at all raise ``TypeError`` or ``ValueError``.
- Text (captions) is encoded as UTF-8; paths (and index item names) with ``os.fsencode``, so ``str``,
  ``bytes`` and ``os.PathLike`` are all accepted.
- Threads: ctypes releases the GIL during each library call, so other Python threads keep running while
  frost computes. A :class:`Model` may be used from several threads at once; its
  encoding calls are serialised by the library (each already computes with the model's ``threads``).
  Separate models run concurrently. An :class:`Index` may be read (``len``, ``item``, ``search``,
  ``search_text``, ``save``) from several threads at once; ``add``, ``add_videos`` and ``remove`` take it
  exclusively. ``close()`` waits for calls in flight on the object.
- Callbacks (``log``, ``progress``) run on the thread of the call that has something to say.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "API_VERSION",
    "Error",
    "Index",
    "Model",
    "backend_available",
    "library_path",
    "library_version",
    "notices",
    "similarity",
]

__version__ = "0.1.0"

#: The FROST_API_VERSION this module was written for; the loaded library must report the same.
API_VERSION = 1

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

# ---- the library ------------------------------------------------------------------------------------------

_STATUS_NAMES = {
    0: "FROST_OK",
    1: "FROST_INVALID_ARGUMENT",
    2: "FROST_BAD_FILE",
    3: "FROST_UNSUPPORTED",
    4: "FROST_IO",
    5: "FROST_NUMERICAL",
    6: "FROST_CANCELLED",
    7: "FROST_OUT_OF_MEMORY",
    8: "FROST_INTERNAL",
}
_TOWERS = {"both": 0, "text": 1, "video": 2}
_LOG_LEVELS = {0: "note", 1: "warning"}

_c_size = ctypes.c_size_t
_c_float_p = ctypes.POINTER(ctypes.c_float)
_c_handle = ctypes.c_void_p

_LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)
_PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)


class _ModelOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("config", ctypes.c_char_p),
        ("vocab", ctypes.c_char_p),
        ("backend", ctypes.c_char_p),
        ("threads", ctypes.c_int),
        ("batch_size", ctypes.c_int),
        ("towers", ctypes.c_int32),  # a frost_towers value
        ("log", _LOG_FN),
        ("log_user", ctypes.c_void_p),
        ("progress", _PROGRESS_FN),
        ("progress_user", ctypes.c_void_p),
    ]


class _Hit(ctypes.Structure):
    _fields_ = [("row", ctypes.c_size_t), ("score", ctypes.c_float)]


_HINT = (
    "set the environment variable FROST_LIBRARY to the path of libfrost.so (for a build tree: "
    "build/libfrost.so), or install frost where the system's linker finds it (ldconfig)"
)


def _find_library() -> Tuple[str, str]:
    path = os.environ.get("FROST_LIBRARY")
    if path:
        return path, "FROST_LIBRARY"
    found = ctypes.util.find_library("frost")
    if found:
        return found, 'ctypes.util.find_library("frost")'
    raise ImportError(f"frost: libfrost.so was not found: FROST_LIBRARY is not set and "
                      f'ctypes.util.find_library("frost") found nothing; {_HINT}')


def _declare(lib: ctypes.CDLL) -> None:
    st = ctypes.c_int  # frost_status
    H = _c_handle
    P = ctypes.c_char_p
    PP = ctypes.POINTER(ctypes.c_char_p)
    signatures = {
        "frost_version": (P, []),
        "frost_api_version": (ctypes.c_int, []),
        "frost_status_name": (P, [ctypes.c_int]),
        "frost_last_error": (P, []),
        "frost_notices": (P, []),
        "frost_backend_available": (st, [P, ctypes.POINTER(ctypes.c_int)]),
        "frost_model_options_init": (None, [ctypes.POINTER(_ModelOptions)]),
        "frost_model_open": (st, [P, ctypes.POINTER(_ModelOptions), ctypes.POINTER(H)]),
        "frost_model_free": (None, [H]),
        "frost_model_embedding_dim": (_c_size, [H]),
        "frost_model_num_frames": (_c_size, [H]),
        "frost_model_image_size": (_c_size, [H]),
        "frost_model_config_json": (P, [H]),
        "frost_tokenize": (st, [H, P, ctypes.POINTER(ctypes.c_int32), _c_size, ctypes.POINTER(_c_size)]),
        "frost_encode_text": (st, [H, PP, _c_size, _c_float_p, _c_size]),
        "frost_encode_frames": (st, [H, ctypes.POINTER(ctypes.c_uint8), _c_size, _c_size, _c_size, _c_size,
                                     _c_float_p, _c_size]),
        "frost_encode_videos": (st, [H, PP, _c_size, _c_float_p, _c_size]),
        "frost_encode_images": (st, [H, PP, _c_size, _c_float_p, _c_size]),
        "frost_similarity": (st, [_c_float_p, _c_size, _c_float_p, _c_size, _c_size, _c_float_p, _c_size]),
        "frost_index_create": (st, [H, ctypes.POINTER(H)]),
        "frost_index_load": (st, [P, ctypes.POINTER(H)]),
        "frost_index_save": (st, [H, P]),
        "frost_index_free": (None, [H]),
        "frost_index_size": (_c_size, [H]),
        "frost_index_dim": (_c_size, [H]),
        "frost_index_item": (st, [H, _c_size, ctypes.c_char_p, _c_size, ctypes.POINTER(_c_size)]),
        "frost_index_add": (st, [H, P, _c_float_p, _c_size]),
        "frost_index_add_videos": (st, [H, H, PP, _c_size]),
        "frost_index_remove": (st, [H, P, ctypes.POINTER(ctypes.c_int)]),
        "frost_index_search": (st, [H, _c_float_p, _c_size, _c_size, ctypes.POINTER(_Hit),
                                    ctypes.POINTER(_c_size)]),
        "frost_index_search_text": (st, [H, H, P, _c_size, ctypes.POINTER(_Hit), ctypes.POINTER(_c_size)]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)  # AttributeError: a library without the function
        fn.restype = restype
        fn.argtypes = argtypes


def _load() -> Tuple[ctypes.CDLL, str]:
    path, source = _find_library()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"frost: cannot load {path!r} (from {source}): {e}; {_HINT}") from e
    try:
        lib.frost_api_version.restype = ctypes.c_int
        lib.frost_api_version.argtypes = []
        found = lib.frost_api_version()
    except AttributeError as e:
        raise ImportError(f"frost: {path!r} (from {source}) is not libfrost: it has no frost_api_version") from e
    if found != API_VERSION:
        raise ImportError(f"frost: {path!r} (from {source}) has API version {found}; this module "
                          f"(frost {__version__}) was written for API version {API_VERSION}")
    try:
        _declare(lib)
    except AttributeError as e:
        raise ImportError(f"frost: {path!r} (from {source}) lacks a function of API version "
                          f"{API_VERSION}: {e}") from e
    probe = _ModelOptions()
    lib.frost_model_options_init(ctypes.byref(probe))
    if probe.struct_size != ctypes.sizeof(_ModelOptions):
        raise ImportError(f"frost: {path!r} has a frost_model_options of {probe.struct_size} bytes; this "
                          f"module's is {ctypes.sizeof(_ModelOptions)}")
    return lib, path


_lib, _library_path = _load()


def library_path() -> str:
    """The path (or name) of the libfrost loaded: FROST_LIBRARY's, or what find_library gave."""
    return _library_path


def library_version() -> str:
    """The loaded library's release, e.g. ``"0.1.0"`` (frost_version)."""
    return _lib.frost_version().decode("utf-8")


def notices() -> str:
    """The licence notices of what the library carries inside itself (frost_notices)."""
    return _lib.frost_notices().decode("utf-8", "replace")


# ---- errors -----------------------------------------------------------------------------------------------


class Error(Exception):
    """A call into libfrost failed.

    Attributes:
        status: the ``frost_status`` name, e.g. ``"FROST_BAD_FILE"`` (see frost.h for their meanings).
        code: the ``frost_status`` value, an int.
        message: the library's message (``frost_last_error``), naming what was wrong.
    """

    def __init__(self, status: str, message: str, code: Optional[int] = None):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.code = code


def _status_error(code: int) -> Error:
    # frost_last_error first: it is valid until this thread's next frost call.
    message = _lib.frost_last_error().decode("utf-8", "replace")
    name = _STATUS_NAMES.get(code)
    if name is None:
        name = _lib.frost_status_name(code).decode("utf-8", "replace")
    return Error(name, message, code)


def _check(code: int) -> None:
    if code != 0:
        raise _status_error(code)


def backend_available(name: str) -> bool:
    """Whether this build of libfrost has the backend ``name`` ("cpu", "reference", "cuda").

    "cuda" is available in a build with CUDA on a machine with a CUDA device."""
    available = ctypes.c_int(0)
    _check(_lib.frost_backend_available(_text(name, "name"), ctypes.byref(available)))
    return bool(available.value)


# ---- argument conversion -----------------------------------------------------------------------------------


def _text(s: str, what: str) -> bytes:
    if not isinstance(s, str):
        raise TypeError(f"{what} must be a str, not {type(s).__name__}")
    b = s.encode("utf-8")
    if b"\0" in b:
        raise ValueError(f"{what} contains a NUL character")
    return b


def _path(p: PathLike, what: str) -> bytes:
    try:
        b = os.fsencode(p)
    except TypeError:
        raise TypeError(f"{what} must be a str, bytes or os.PathLike, not {type(p).__name__}") from None
    if b"\0" in b:
        raise ValueError(f"{what} contains a NUL character")
    return b


def _is_path(x) -> bool:
    return isinstance(x, (str, bytes, os.PathLike))


def _path_list(paths, what: str) -> List[bytes]:
    if _is_path(paths):
        paths = [paths]
    try:
        items = list(paths)
    except TypeError:
        raise TypeError(f"{what} must be a path or a sequence of paths, not {type(paths).__name__}") from None
    return [_path(p, f"{what}[{i}]") for i, p in enumerate(items)]


def _char_array(items: Sequence[bytes]):
    arr = (ctypes.c_char_p * max(len(items), 1))()
    for i, b in enumerate(items):
        arr[i] = b
    return arr


def _floats(x, what: str) -> np.ndarray:
    a = np.ascontiguousarray(x, dtype=np.float32)
    return a


def _fptr(a: np.ndarray):
    return a.ctypes.data_as(_c_float_p)


class _ReadWriteLock:
    """Many readers or one writer: keeps a handle alive (and unchanged, for an index) during calls."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class _Owned:
    """A library handle owned by a Python object: close() frees it once (waiting for calls in flight under
    the object's lock), as do a ``with`` block's end and garbage collection. Subclasses name their library
    free function in ``_free_name`` and set ``_handle`` and ``_lock``."""

    _free_name = ""

    def close(self) -> None:
        """Frees the handle (frost_*_free); waits for calls in flight. Idempotent."""
        with self._lock.write():
            handle, self._handle = self._handle, None
            if handle is not None:
                getattr(_lib, self._free_name)(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            self._handle = None
            try:
                getattr(_lib, self._free_name)(handle)
            except Exception:  # interpreter shutdown
                pass

    @property
    def closed(self) -> bool:
        return self._handle is None


# ---- the model -------------------------------------------------------------------------------------------


class Model(_Owned):
    """A Frozen in Time dual encoder opened from its weights (frost_model_open).

    Args:
        weights: a checkpoint: ``.safetensors`` as frost writes or converts them, or the released PyTorch
            ``.pth``/``.tar``.
        config: ``"base"``, ``"tiny"`` or the path of a JSON config file; None: the one the weights record,
            else base.
        vocab: a ``vocab.txt``, ``tokenizer.json`` or Hugging Face model folder; None: the one the weights
            record, else the built-in BERT uncased vocabulary.
        backend: ``"cpu"``, ``"reference"`` or ``"cuda"`` (see :func:`backend_available`).
        threads: threads to compute with; 0: OpenMP's default (OMP_NUM_THREADS, else the cores).
        batch_size: inputs per run; 0: 8. The progress callback is called after each batch.
        towers: ``"both"``, ``"text"`` (captions only; the video weights are not read) or ``"video"``
            (clips, videos and images only).
        log: ``log(level, message)``, level ``"note"`` (a choice made for the caller: a config or vocabulary
            inferred, a hash computed) or ``"warning"`` (something probably wrong in an input). Called on the
            thread of the call; an exception it raises is reported as unraisable and the call goes on.
        progress: ``progress(done, total)`` after each batch of a long call (encoding, Index.add_videos);
            a truthy return cancels it: the call raises :class:`Error` with status ``"FROST_CANCELLED"``.
            An exception raised by the callback cancels the call too and is raised from it (chained to that
            Error).

    Raises:
        Error: ``FROST_BAD_FILE`` for a file that is not such a model (or is missing),
            ``FROST_BAD_FILE`` for a config that is neither "base", "tiny" nor a readable JSON file,
            ``FROST_UNSUPPORTED`` for a backend this build or machine lacks, ``FROST_INVALID_ARGUMENT`` for a
            vocabulary that does not fit.

    A Model is a context manager; ``close()`` frees it (also done when it is garbage collected). It may be
    used from several threads at once: its encoding calls are serialised by the library.
    """

    _free_name = "frost_model_free"

    def __init__(self, weights: PathLike, *, config: Optional[PathLike] = None, vocab: Optional[PathLike] = None,
                 backend: str = "cpu", threads: int = 0, batch_size: int = 0, towers: str = "both",
                 log: Optional[Callable[[str, str], object]] = None,
                 progress: Optional[Callable[[int, int], object]] = None):
        self._handle = None  # before anything can fail: __del__ looks at it
        self._lock = _ReadWriteLock()
        self._tls = threading.local()  # the exception a progress callback raised during this thread's call
        weights_b = _path(weights, "weights")
        if towers not in _TOWERS:
            raise ValueError(f"towers is {towers!r}; give 'both', 'text' or 'video'")
        for name, value in (("threads", threads), ("batch_size", batch_size)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, not {type(value).__name__}")
            if not -2**31 <= value < 2**31:
                raise ValueError(f"{name} is {value}; give 0 (the default) to 4096")
        if log is not None and not callable(log):
            raise TypeError("log must be callable: log(level: str, message: str)")
        if progress is not None and not callable(progress):
            raise TypeError("progress must be callable: progress(done: int, total: int) -> bool")

        options = _ModelOptions()
        _lib.frost_model_options_init(ctypes.byref(options))
        options.config = None if config is None else _path(config, "config")
        options.vocab = None if vocab is None else _path(vocab, "vocab")
        options.backend = _text(backend, "backend")
        options.threads = threads
        options.batch_size = batch_size
        options.towers = _TOWERS[towers]
        # The ctypes callback objects live as long as the model (the library keeps their addresses).
        self._log_cb = self._progress_cb = None
        if log is not None:
            self._log_cb = _LOG_FN(_log_trampoline(log))
            options.log = self._log_cb
        if progress is not None:
            self._progress_cb = _PROGRESS_FN(_progress_trampoline(progress, self._tls))
            options.progress = self._progress_cb

        handle = _c_handle()
        self._tls.exception = None
        code = _lib.frost_model_open(weights_b, ctypes.byref(options), ctypes.byref(handle))
        self._tls.exception = None
        _check(code)
        self._handle = handle
        self.weights = os.fsdecode(weights_b)
        self.backend = backend
        self.towers = towers
        self._dim = int(_lib.frost_model_embedding_dim(handle))
        self._num_frames = int(_lib.frost_model_num_frames(handle))
        self._image_size = int(_lib.frost_model_image_size(handle))
        self._config_json = _lib.frost_model_config_json(handle).decode("utf-8")

    @contextmanager
    def _use(self) -> Iterator[_c_handle]:
        with self._lock.read():
            if self._handle is None:
                raise ValueError("the frost.Model is closed")
            yield self._handle

    def _call(self, fn, *args) -> None:
        """Calls `fn` (a frost function using this model's callbacks) and raises for a failed status; an
        exception raised by the progress callback during it is raised, chained to the FROST_CANCELLED."""
        self._tls.exception = None
        try:
            code = fn(*args)
        finally:
            raised, self._tls.exception = self._tls.exception, None
        if code != 0:
            error = _status_error(code)
            if raised is not None:
                raise raised from error
            raise error

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else f"dim={self._dim}"
        return f"frost.Model({self.weights!r}, {state})"

    # -- properties --

    @property
    def embedding_dim(self) -> int:
        """Width of the embeddings (the projection's: 256 for base)."""
        return self._dim

    @property
    def num_frames(self) -> int:
        """Frames per clip the model was trained on (4 for base)."""
        return self._num_frames

    @property
    def image_size(self) -> int:
        """Side of the model's square input, in pixels (224 for base)."""
        return self._image_size

    @property
    def config(self) -> dict:
        """The model's config (frost_model_config_json, parsed): a new dict each time."""
        return json.loads(self._config_json)

    @property
    def config_json(self) -> str:
        """The model's config as the JSON text frost records in checkpoints."""
        return self._config_json

    # -- text --

    def tokenize(self, text: str) -> List[int]:
        """The token ids of ``text`` as the model's tokenizer gives them, [CLS] ... [SEP] included.

        Raises Error (``FROST_INVALID_ARGUMENT``) for a model opened with ``towers="video"``."""
        b = _text(text, "text")
        count = _c_size(0)
        with self._use() as h:
            _check(_lib.frost_tokenize(h, b, None, 0, ctypes.byref(count)))  # the count alone
            ids = (ctypes.c_int32 * max(count.value, 1))()
            _check(_lib.frost_tokenize(h, b, ids, count.value, ctypes.byref(count)))
            return list(ids[: count.value])

    def encode_text(self, captions: Union[str, Sequence[str]]) -> np.ndarray:
        """Embeds captions (frost_encode_text).

        Args:
            captions: a sequence of N str; a single str is taken as one caption (N = 1). Captions longer than
                the text model's positions (512 for base) are truncated, as the reference's tokenizer does.

        Returns:
            float32 array (N, embedding_dim), row i the embedding of captions[i] (not normalised).
        """
        if isinstance(captions, str):
            captions = [captions]
        if isinstance(captions, (bytes, np.ndarray)):
            raise TypeError("captions must be a str or a sequence of str")
        texts = [_text(c, f"captions[{i}]") for i, c in enumerate(captions)]
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        arr = _char_array(texts)
        with self._use() as h:
            self._call(_lib.frost_encode_text, h, arr, len(texts), _fptr(out), out.size)
        return out

    # -- video --

    def encode_video(self, x) -> np.ndarray:
        """Embeds video clips.

        Args:
            x: one of
                - a path (str, bytes, os.PathLike) or a sequence of N paths: video files (through FFmpeg, in
                  builds that have it), folders of frame images (00000.png, 00001.png, ...) or images; frames
                  sampled uniformly and preprocessed as the reference at test time (frost_encode_videos).
                  An image is a one-frame clip.
                - a numpy uint8 array of decoded RGB frames, (F, H, W, 3) for one clip or (N, F, H, W, 3) for
                  N clips, 1 <= F <= num_frames; each frame is resized, centre-cropped and normalised as the
                  reference's test transform (frost_encode_frames). A C-contiguous copy is made if needed.

        Returns:
            float32 array (N, embedding_dim) (N = 1 for a single path or a 4-d array).

        Damaged but readable data is a "warning" to the log callback; an unreadable input raises Error
        naming it.
        """
        if isinstance(x, np.ndarray):
            return self._encode_frames(x)
        paths = _path_list(x, "paths")
        return self._encode_paths(_lib.frost_encode_videos, paths)

    def encode_images(self, paths: Union[PathLike, Sequence[PathLike]]) -> np.ndarray:
        """Embeds images (PNG, JPEG), each as a one-frame clip: the reference's image path
        (frost_encode_images).

        Args:
            paths: a path or a sequence of N paths (a single path: N = 1).

        Returns:
            float32 array (N, embedding_dim).
        """
        return self._encode_paths(_lib.frost_encode_images, _path_list(paths, "paths"))

    def _encode_paths(self, fn, paths: List[bytes]) -> np.ndarray:
        out = np.empty((len(paths), self._dim), dtype=np.float32)
        arr = _char_array(paths)
        with self._use() as h:
            self._call(fn, h, arr, len(paths), _fptr(out), out.size)
        return out

    def _encode_frames(self, frames: np.ndarray) -> np.ndarray:
        if frames.dtype != np.uint8:
            raise TypeError(f"frames must be a uint8 array (RGB, 0-255), not {frames.dtype}")
        if frames.ndim == 4:
            frames = frames[np.newaxis]
        if frames.ndim != 5 or frames.shape[-1] != 3:
            raise ValueError(f"frames must have shape (F, H, W, 3) or (N, F, H, W, 3), not {frames.shape}")
        frames = np.ascontiguousarray(frames)
        n, f, height, width, _ = frames.shape
        out = np.empty((n, self._dim), dtype=np.float32)
        with self._use() as h:
            self._call(_lib.frost_encode_frames, h, frames.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)),
                       n, f, height, width, _fptr(out), out.size)
        return out


def _log_trampoline(log: Callable[[str, str], object]):
    def trampoline(_user, level, message):
        # An exception here escapes to ctypes, which reports it as unraisable; the call goes on.
        log(_LOG_LEVELS.get(level, str(level)), message.decode("utf-8", "replace") if message else "")

    return trampoline


def _progress_trampoline(progress: Callable[[int, int], object], tls: threading.local):
    # `tls` rather than the model itself: no reference cycle, so a dropped model is freed at once.
    def trampoline(_user, done, total):
        try:
            return 1 if progress(int(done), int(total)) else 0
        except BaseException as e:  # KeyboardInterrupt included: stop, and raise it from the call
            if getattr(tls, "exception", None) is None:
                tls.exception = e
            return 1

    return trampoline


# ---- similarity --------------------------------------------------------------------------------------------


def _rows(x, what: str) -> np.ndarray:
    a = _floats(x, what)
    if a.ndim == 1:
        a = a[np.newaxis]
    if a.ndim != 2:
        raise ValueError(f"{what} must have shape (rows, dim) or (dim,), not {a.shape}")
    return a


def similarity(a, b) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b`` (frost_similarity).

    Rows are scaled by 1 / max(norm, 1e-8), as the reference's sim_matrix.

    Args:
        a: array-like (A, dim) (or (dim,): one row), converted to float32.
        b: array-like (B, dim) (or (dim,): one row), converted to float32.

    Returns:
        float32 array (A, B).
    """
    a2, b2 = _rows(a, "a"), _rows(b, "b")
    if a2.shape[1] != b2.shape[1]:
        raise ValueError(f"a has rows of {a2.shape[1]} values, b of {b2.shape[1]}")
    out = np.empty((a2.shape[0], b2.shape[0]), dtype=np.float32)
    _check(_lib.frost_similarity(_fptr(a2), a2.shape[0], _fptr(b2), b2.shape[0], a2.shape[1], _fptr(out),
                                 out.size))
    return out


# ---- the retrieval index ---------------------------------------------------------------------------------


class Index(_Owned):
    """A retrieval index: normalised video embeddings and the items they came from, in one file that
    ``frost index`` and ``frost search`` read and write too. Items are named by their path (or any unique
    id); adding a name already present replaces its row. Search is exact cosine top-k.

    Make one with :meth:`Index.create` (empty, for a model's embeddings) or :meth:`Index.load`. An Index is a
    context manager; ``close()`` frees it (also done when it is garbage collected).

    Threads: len, item, search, search_text and save may run from several threads at once; add, add_videos
    and remove take the index exclusively.
    """

    _free_name = "frost_index_free"

    def __init__(self, handle: _c_handle):
        """Internal: use Index.create or Index.load."""
        self._handle = handle
        self._lock = _ReadWriteLock()

    @classmethod
    def create(cls, model: Model) -> "Index":
        """An empty index for the embeddings of ``model`` (frost_index_create): its config and video tower
        are recorded, so searching with another model's embeddings is refused. Computing the video tower's
        hash (for weights that record none) is a "note" to the model's log callback."""
        handle = _c_handle()
        with model._use() as m:
            model._call(_lib.frost_index_create, m, ctypes.byref(handle))
        return cls(handle)

    @classmethod
    def load(cls, path: PathLike) -> "Index":
        """Reads an index file (frost_index_load); Error FROST_BAD_FILE naming what is wrong with a damaged
        one."""
        handle = _c_handle()
        _check(_lib.frost_index_load(_path(path, "path"), ctypes.byref(handle)))
        return cls(handle)

    def save(self, path: PathLike) -> None:
        """Writes the index to ``path`` atomically (frost_index_save): a crash leaves the previous file."""
        p = _path(path, "path")
        with self._use() as h:
            _check(_lib.frost_index_save(h, p))

    @contextmanager
    def _use(self, exclusive: bool = False) -> Iterator[_c_handle]:
        # Also makes the hits buffer sized from len() and the names read after a search consistent with
        # the index searched: changes wait for reads in flight.
        with (self._lock.write() if exclusive else self._lock.read()):
            if self._handle is None:
                raise ValueError("the frost.Index is closed")
            yield self._handle

    def __repr__(self) -> str:
        if self._handle is None:
            return "frost.Index(closed)"
        return f"frost.Index({len(self)} items, dim={self.dim})"

    def __len__(self) -> int:
        """The number of items."""
        with self._use() as h:
            return int(_lib.frost_index_size(h))

    @property
    def dim(self) -> int:
        """Width of the index's embeddings."""
        with self._use() as h:
            return int(_lib.frost_index_dim(h))

    def _item(self, h, row: int) -> str:
        length = _c_size(0)
        _check(_lib.frost_index_item(h, row, None, 0, ctypes.byref(length)))  # the length alone
        while True:  # another thread may replace the item meanwhile: retry with its new length
            buffer = ctypes.create_string_buffer(length.value + 1)
            needed = length.value
            code = _lib.frost_index_item(h, row, buffer, len(buffer), ctypes.byref(length))
            if code == 0:
                return os.fsdecode(buffer.value)
            if length.value == needed:
                _check(code)

    def item(self, row: int) -> str:
        """The name (path) of the item at ``row``, 0 <= row < len(index); Error FROST_INVALID_ARGUMENT past
        the end."""
        row = int(row)
        if row < 0:
            raise IndexError(f"row {row} is negative")
        with self._use() as h:
            return self._item(h, row)

    def names(self) -> List[str]:
        """The names of all items, in row order."""
        with self._use() as h:
            return [self._item(h, r) for r in range(int(_lib.frost_index_size(h)))]

    def add(self, name: PathLike, embedding) -> None:
        """Adds (or replaces) the item ``name`` with ``embedding``: array-like of ``dim`` values (shape
        (dim,) or (1, dim)), converted to float32 (frost_index_add). Error FROST_INVALID_ARGUMENT for another
        width or an empty name."""
        n = _path(name, "name")
        e = _floats(embedding, "embedding")
        if e.ndim == 2 and e.shape[0] == 1:
            e = e[0]
        if e.ndim != 1:
            raise ValueError(f"embedding must have shape (dim,) or (1, dim), not {e.shape}")
        with self._use(exclusive=True) as h:
            _check(_lib.frost_index_add(h, n, _fptr(e), e.shape[0]))

    def add_videos(self, model: Model, paths: Union[PathLike, Sequence[PathLike]]) -> None:
        """Encodes videos, frame folders or images (as Model.encode_video) with ``model`` — the index's model
        — and adds them, named by their paths, with each file's size and modification time, as
        ``frost index`` does (frost_index_add_videos). The model's progress callback may cancel it."""
        items = _path_list(paths, "paths")
        arr = _char_array(items)
        # Shared: the library takes the index exclusively only to add the encoded items, so callbacks (and
        # other threads) may read the index meanwhile.
        with model._use() as m, self._use() as h:
            model._call(_lib.frost_index_add_videos, h, m, arr, len(items))

    def remove(self, name: PathLike) -> bool:
        """Removes the item ``name``; True if it was there (frost_index_remove)."""
        n = _path(name, "name")
        removed = ctypes.c_int(0)
        with self._use(exclusive=True) as h:
            _check(_lib.frost_index_remove(h, n, ctypes.byref(removed)))
        return bool(removed.value)

    def _hits(self, h, k: int, search) -> List[Tuple[str, float]]:
        if not isinstance(k, int) or isinstance(k, bool):
            raise TypeError(f"k must be an int, not {type(k).__name__}")
        if k < 0:
            raise ValueError(f"k is {k}")
        # At most `ask` hits are asked for and written, whatever other threads add meanwhile.
        # (k = 0 goes to the library as it is, which refuses it by name.)
        ask = 0 if k == 0 else max(1, min(k, int(_lib.frost_index_size(h))))
        hits = (_Hit * max(1, ask))()
        count = _c_size(0)
        search(hits, ask, count)
        return [(self._item(h, hits[i].row), float(hits[i].score)) for i in range(count.value)]

    def search(self, query, k: int = 10) -> List[Tuple[str, float]]:
        """The best min(k, len) items for a query embedding (frost_index_search), best first (ties: the
        lower row).

        Args:
            query: array-like of ``dim`` values, shape (dim,) or (1, dim), converted to float32.
            k: the number of results, >= 1.

        Returns:
            a list of (name, score), score the cosine similarity (a Python float from a float32).
        """
        q = _floats(query, "query")
        if q.ndim == 2 and q.shape[0] == 1:
            q = q[0]
        if q.ndim != 1:
            raise ValueError(f"query must have shape (dim,) or (1, dim), not {q.shape}")
        with self._use() as h:
            return self._hits(h, k, lambda hits, room, count: _check(
                _lib.frost_index_search(h, _fptr(q), q.shape[0], room, hits, ctypes.byref(count))))

    def search_text(self, model: Model, caption: str, k: int = 10) -> List[Tuple[str, float]]:
        """The best min(k, len) items for a caption encoded with ``model``, which must be the index's model
        (frost_index_search_text); as :meth:`search`."""
        c = _text(caption, "caption")
        with model._use() as m, self._use() as h:
            return self._hits(h, k, lambda hits, room, count: model._call(
                _lib.frost_index_search_text, h, m, c, room, hits, ctypes.byref(count)))
