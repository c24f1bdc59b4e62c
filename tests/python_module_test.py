#!/usr/bin/env python3
"""Tests the Python module (python/frost) against the `frost` command, through the installed package.

    /usr/bin/python3 tests/python_module_test.py --source /work/main --frost build/frost \
        --library build/libfrost.so

Makes a temporary virtual environment with --system-site-packages (numpy from the system, e.g. Debian's
python3-numpy), installs <source>/python into it with pip without network or compiler
(--no-build-isolation --no-deps --no-index; setuptools and wheel from the system), then runs the checks
inside that environment's python (this script again, with --inside) with FROST_LIBRARY set. One line per
check; exit status 0 only if all pass, 1 otherwise (2: the environment could not be set up).
"""

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import traceback
import zlib

WEIGHTS = "tests/parity/fixtures/tiny_dual_weights.safetensors"
VOCAB = "tests/parity/fixtures/tiny_vocab.txt"
CONFIG = "tiny"
IMAGES = "tests/fixtures/images"

# ---- outside: the virtual environment ------------------------------------------------------------------------


def setup_and_run(args) -> int:
    source = os.path.abspath(args.source)
    frost_cli = os.path.abspath(args.frost)
    library = os.path.abspath(args.library)
    for what, path in (("--source python/pyproject.toml", os.path.join(source, "python", "pyproject.toml")),
                       ("--frost", frost_cli), ("--library", library)):
        if not os.path.exists(path):
            print(f"SETUP FAILED: {what}: {path} does not exist")
            return 2
    work = tempfile.mkdtemp(prefix="frost-python-test-")
    try:
        venv = os.path.join(work, "venv")
        # --without-pip would need a pip elsewhere; ensurepip installs the bundled wheel, offline.
        r = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"SETUP FAILED: {sys.executable} -m venv: {r.stderr.strip() or r.stdout.strip()}\n"
                  "  (Debian: apt-get install python3-venv)")
            return 2
        python = os.path.join(venv, "bin", "python")
        r = subprocess.run([python, "-c", "import numpy, setuptools, wheel"], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"SETUP FAILED: the venv lacks numpy, setuptools or wheel: {r.stderr.strip()}\n"
                  "  (Debian: apt-get install python3-numpy python3-setuptools python3-wheel)")
            return 2
        # Installed from a copy: pip's in-tree build would leave build/ and *.egg-info in the source tree.
        package = os.path.join(work, "python")
        shutil.copytree(os.path.join(source, "python"), package,
                        ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
        env.pop("FROST_LIBRARY", None)
        r = subprocess.run([python, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                            "--no-cache-dir", package], capture_output=True, text=True, env=env, cwd=work)
        if r.returncode != 0:
            print(f"SETUP FAILED: pip install {package}:\n{r.stdout}\n{r.stderr}")
            return 2
        print(f"PASS install: pip install --no-build-isolation --no-deps --no-index into {venv}")
        env["FROST_LIBRARY"] = library
        r = subprocess.run([python, os.path.abspath(__file__), "--inside", "--source", source, "--frost",
                            frost_cli, "--library", library, "--work", work, "--venv", venv], env=env, cwd=work)
        return 0 if r.returncode == 0 else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


# ---- inside: the checks ----------------------------------------------------------------------------------------


class Mismatch(Exception):
    pass


def write_png(path: str, rgb) -> None:
    """A minimal PNG writer: 8-bit RGB, no interlace, filter 0 on every row."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def run_checks(args) -> int:
    import numpy as np

    import frost

    source, cli, work = args.source, args.frost, args.work
    weights, vocab = os.path.join(source, WEIGHTS), os.path.join(source, VOCAB)
    images = os.path.join(source, IMAGES)
    quadrants, photo = os.path.join(images, "quadrants.png"), os.path.join(images, "photo.jpg")
    data = os.path.join(work, "data")
    os.makedirs(data, exist_ok=True)
    failed = []

    def check(name, fn):
        try:
            detail = fn()
            print(f"PASS {name}" + (f": {detail}" if detail else ""), flush=True)
        except Mismatch as e:
            print(f"FAIL {name}: {e}", flush=True)
            failed.append(name)
        except Exception:
            print(f"FAIL {name}: unexpected exception\n{traceback.format_exc()}", flush=True)
            failed.append(name)

    def expect(cond, message):
        if not cond:
            raise Mismatch(message)

    def run_cli(*argv) -> str:
        r = subprocess.run([cli, *argv], capture_output=True, text=True)
        if r.returncode != 0:
            raise Mismatch(f"`frost {' '.join(argv)}` exited {r.returncode}: {r.stderr.strip()}")
        return r.stdout

    def cli_npy(kind, inputs, extra=()):
        out = os.path.join(data, f"cli_{kind}_{len(os.listdir(data))}.npy")
        run_cli("encode", kind, "--weights", weights, "--config", CONFIG, *extra, *inputs, "--out", out)
        return np.load(out)

    def equal_bits(what, got, want):
        expect(got.dtype == np.float32 and want.dtype == np.float32,
               f"{what}: dtypes {got.dtype} (module) and {want.dtype} (CLI)")
        expect(got.shape == want.shape, f"{what}: shapes {got.shape} (module) and {want.shape} (CLI)")
        if not np.array_equal(got, want):
            rows = sorted({int(i) for i in np.argwhere(got != want)[:, 0]})
            raise Mismatch(f"{what}: rows {rows} differ; largest difference {np.abs(got - want).max():.3g}")

    def expect_error(status, fn, *contains):
        try:
            fn()
        except frost.Error as e:
            expect(e.status == status, f"raised {e.status} ({e.message}), expected {status}")
            for c in contains:
                expect(c in e.message and c in str(e), f"the message {e.message!r} does not contain {c!r}")
            return e
        raise Mismatch(f"no frost.Error raised; expected {status}")

    # -- the module itself --
    def installed():
        site = os.path.realpath(args.venv)
        expect(os.path.realpath(frost.__file__).startswith(site),
               f"frost was imported from {frost.__file__}, not from the venv {site}")
        expect(frost.API_VERSION == 1, f"API_VERSION {frost.API_VERSION}")
        expect(os.path.samefile(frost.library_path(), args.library),
               f"library_path() {frost.library_path()} is not FROST_LIBRARY {args.library}")
        expect(frost.backend_available("cpu") is True, "backend 'cpu' not available")
        return f"{frost.__file__}, library {frost.library_version()} at {frost.library_path()}"

    check("import", installed)

    logs = []
    model = frost.Model(weights, config=CONFIG, vocab=vocab, log=lambda level, message: logs.append((level, message)))

    def properties():
        expect((model.embedding_dim, model.num_frames, model.image_size) == (32, 4, 32),
               f"dim, frames, size = {model.embedding_dim}, {model.num_frames}, {model.image_size}")
        config = model.config
        expect(isinstance(config, dict) and config.get("projection_dim") == 32, f"config {config}")
        ids = model.tokenize("a dog on the beach")
        expect(ids[0] == 2 and ids[-1] == 3 and len(ids) >= 4, f"tokenize gave {ids} ([CLS] 2 ... [SEP] 3)")
        return f"dim 32, 4 frames, 32 px, config '{config.get('name')}', tokenize -> {ids}"

    check("model properties", properties)

    # -- text --
    captions = ["a dog playing with a ball on the beach", "a woman cooking food in the kitchen",
                "man running on the street at night", "cat", "Café, naïve: a dog!?",
                " ".join(["a man and a woman playing ball on the beach at night"] * 12)]

    def text():
        got = model.encode_text(captions)
        equal_bits("encode_text", got, cli_npy("text", captions, ("--vocab", vocab)))
        expect(got.flags.c_contiguous, "not C-contiguous")
        one = model.encode_text(captions[1])  # a single str is one caption
        equal_bits("encode_text(str)", one, cli_npy("text", captions[1:2], ("--vocab", vocab)))
        # In a batch with a longer caption, the row is padded: the same to float rounding, not bit for bit.
        expect(np.abs(one - got[1:2]).max() <= 1e-5, f"encode_text(str) vs its batch row: "
               f"{np.abs(one - got[1:2]).max():.3g}")
        empty = model.encode_text([])
        expect(empty.shape == (0, 32) and empty.dtype == np.float32, f"encode_text([]) -> {empty.shape}")
        return f"{len(captions)} captions (one of {len(model.tokenize(captions[-1]))} tokens) equal the CLI's bits"

    check("encode_text == frost encode text", text)

    # -- videos --
    rng = np.random.RandomState(7)
    H, W = 40, 56
    yy, xx = np.mgrid[0:H, 0:W]

    def frame(i):
        base = np.stack([(xx * 4 + i * 30) % 256, (yy * 6 + i * 50) % 256, ((xx + yy) * 3 + i * 70) % 256], -1)
        return np.clip(base + rng.randint(-20, 21, base.shape), 0, 255).astype(np.uint8)

    clips = {}
    for name, count in (("clip4", 4), ("clip7", 7), ("clip2", 2)):
        folder = os.path.join(data, name)
        os.makedirs(folder)
        clips[name] = np.stack([frame(i + 10 * len(clips)) for i in range(count)])
        for i, f in enumerate(clips[name]):
            write_png(os.path.join(folder, f"{i:05d}.png"), f)
    folders = [os.path.join(data, n) for n in ("clip4", "clip7", "clip2")]
    single_png = os.path.join(data, "single.png")
    write_png(single_png, clips["clip7"][3])

    def videos():
        got = model.encode_video(folders)
        equal_bits("encode_video(frame folders)", got, cli_npy("video", folders))
        one = model.encode_video(folders[1])
        equal_bits("encode_video(one folder)", one, cli_npy("video", folders[1:2]))
        return "3 frame folders (4, 7, 2 frames of 56x40) equal the CLI's bits"

    check("encode_video(folders) == frost encode video", videos)

    def image_as_video():
        cli_image = cli_npy("image", [quadrants, photo])
        equal_bits("encode_images", model.encode_images([quadrants, photo]), cli_image)
        # frost_encode_videos takes an image as a one-frame clip (frost.h), as `frost index` does; the CLI's
        # `encode image` is that. (`frost encode video IMAGE` makes a clip of num_frames copies instead.)
        equal_bits("encode_video(image)", model.encode_video(quadrants), cli_image[:1])
        equal_bits("encode_video([image, image])", model.encode_video([quadrants, photo]), cli_image)
        as_video = cli_npy("video", [quadrants])
        note = "same" if np.array_equal(as_video, cli_image[:1]) else "differs: a clip of num_frames copies"
        return f"images equal `frost encode image` bit for bit (`frost encode video IMAGE`: {note})"

    check("encode_video(image), encode_images == frost encode image", image_as_video)

    def frames_array():
        arr = clips["clip4"]  # (4, 40, 56, 3): a 4-frame folder samples all of its frames
        got = model.encode_video(arr)
        expect(got.shape == (1, 32) and got.dtype == np.float32 and got.flags.c_contiguous,
               f"encode_video((4, H, W, 3) uint8) -> {got.shape} {got.dtype}")
        equal_bits("encode_video(array) twice", model.encode_video(arr), got)
        equal_bits("encode_video(array) vs its folder", got, model.encode_video(folders[0]))
        both = model.encode_video(np.stack([arr, clips["clip7"][:4]]))
        expect(both.shape == (2, 32), f"(2, 4, H, W, 3) -> {both.shape}")
        second = model.encode_video(clips["clip7"][:4])
        expect(np.allclose(both[0], got[0], atol=1e-5) and np.allclose(both[1], second[0], atol=1e-5),
               "a batch of 2 clips differs from the clips one at a time")
        flipped = arr[:, :, ::-1]  # not C-contiguous: a copy is made
        expect(not flipped.flags.c_contiguous, "test bug: the flipped view is contiguous")
        equal_bits("non-contiguous array", model.encode_video(flipped),
                   model.encode_video(np.ascontiguousarray(flipped)))
        one_frame = model.encode_video(clips["clip7"][3:4])  # a one-frame clip = the image path
        equal_bits("one-frame array vs encode_images", one_frame, model.encode_images(single_png))
        expect_error("FROST_INVALID_ARGUMENT", lambda: model.encode_video(np.stack([arr[0]] * 5)), "frames")
        try:
            model.encode_video(arr.astype(np.float32))
            raise Mismatch("a float32 array was accepted")
        except TypeError:
            pass
        return "shape (N, 32) float32; deterministic; equals the same frames as a PNG folder and as an image"

    check("encode_video(uint8 array) (frost_encode_frames)", frames_array)

    # -- similarity --
    def sim():
        t, v = model.encode_text(captions), model.encode_video(folders + [quadrants])
        got = frost.similarity(t, v)
        expect(got.shape == (len(captions), 4) and got.dtype == np.float32, f"shape {got.shape} {got.dtype}")
        t64, v64 = t.astype(np.float64), v.astype(np.float64)
        tn = t64 / np.maximum(np.linalg.norm(t64, axis=1, keepdims=True), 1e-8)
        vn = v64 / np.maximum(np.linalg.norm(v64, axis=1, keepdims=True), 1e-8)
        err = np.abs(got - tn @ vn.T).max()
        expect(err <= 1e-6, f"largest difference from numpy's cosine {err:.3g}")
        vector = frost.similarity(t[0], v)
        expect(vector.shape == (1, 4) and np.array_equal(vector, got[:1]), "a 1-d row differs")
        return f"({len(captions)}, 4) within {err:.2g} of numpy"

    check("similarity == numpy cosine", sim)

    # -- the index --
    index_path = os.path.join(data, "module.index")
    queries = ["a dog playing on the beach", "cooking food in a kitchen", "a car on the street at night"]

    def cli_search(path, k):
        import json
        out = run_cli("search", "--index", path, "--weights", weights, "--config", CONFIG, "--vocab", vocab,
                      "--json", *queries, "-k", str(k))
        lines = [json.loads(l) for l in out.splitlines() if l.strip()]
        expect(len(lines) == len(queries), f"`frost search` gave {len(lines)} JSON lines for {len(queries)} queries")
        return {l["query"]: [(r["path"], r["score"]) for r in l["results"]] for l in lines}

    def same_results(what, got, want):
        expect([n for n, _ in got] == [n for n, _ in want],
               f"{what}: order {[n for n, _ in got]} (module) vs {[n for n, _ in want]} (CLI)")
        err = max([abs(a - b) for (_, a), (_, b) in zip(got, want)], default=0.0)
        expect(err <= 1e-6, f"{what}: scores differ by {err:.3g}: {got} vs {want}")
        return err

    def index():
        logs.clear()
        ix = frost.Index.create(model)
        notes = [m for level, m in logs if level == "note" and "video-tower hash" in m]
        expect(notes, f"no note about the video-tower hash in the log: {logs}")
        expect(len(ix) == 0 and ix.dim == 32, f"a new index: {len(ix)} items, dim {ix.dim}")
        inputs = folders + [quadrants, photo]
        ix.add_videos(model, inputs)
        ix.add("text:dog", model.encode_text("a dog")[0])
        ix.add("temporary", model.encode_text("cat"))
        expect(ix.remove("temporary") is True and ix.remove("temporary") is False, "remove did not say right")
        expect(len(ix) == 6 and ix.names() == inputs + ["text:dog"], f"items {ix.names()}")
        expect(ix.item(5) == "text:dog", f"item(5) = {ix.item(5)!r}")
        expect_error("FROST_INVALID_ARGUMENT", lambda: ix.item(6), "row 6")
        ix.save(index_path)
        want = cli_search(index_path, 4)
        worst = 0.0
        loaded = frost.Index.load(index_path)
        expect(loaded.names() == ix.names(), f"the saved index holds {loaded.names()}")
        for q in queries:
            worst = max(worst, same_results(f"search_text({q!r})", ix.search_text(model, q, 4), want[q]))
            same_results(f"loaded search_text({q!r})", loaded.search_text(model, q, 4), want[q])
            same_results(f"search(embedding of {q!r})", ix.search(model.encode_text(q)[0], 4), want[q])
        everything = ix.search_text(model, queries[0], 100)
        expect(len(everything) == 6, f"k = 100 over 6 items gave {len(everything)}")
        loaded.close()
        ix.close()
        ix.close()  # idempotent
        try:
            len(ix)
            raise Mismatch("a closed index answered")
        except ValueError:
            pass
        return f"{len(queries)} captions: same order and scores (within {worst:.2g}) as `frost search --json`"

    check("Index (module) searched == frost search on its file", index)

    def cli_index():
        path = os.path.join(data, "cli.index")
        inputs = folders + [quadrants, photo]
        run_cli("index", "--weights", weights, "--config", CONFIG, "--out", path, *inputs)
        want = cli_search(path, 3)
        with frost.Index.load(path) as ix:
            expect(sorted(ix.names()) == sorted(inputs), f"items {ix.names()}")
            for q in queries:
                same_results(f"search_text({q!r})", ix.search_text(model, q, 3), want[q])
        return "the module searches an index `frost index` made as `frost search` does"

    check("Index.load(frost index file) == frost search", cli_index)

    # -- errors --
    def missing_weights():
        missing = os.path.join(data, "no-such-weights.safetensors")
        e = expect_error("FROST_BAD_FILE", lambda: frost.Model(missing, config=CONFIG), missing)
        expect(isinstance(e, Exception) and e.code == 2, f"code {e.code}")
        return e.message

    check("missing weights -> FROST_BAD_FILE naming the path", missing_weights)

    def wrong_width():
        with frost.Index.create(model) as ix:
            e = expect_error("FROST_INVALID_ARGUMENT", lambda: ix.add("x", np.zeros(31, np.float32)))
            expect(len(ix) == 0, "the refused row was added")
            expect_error("FROST_INVALID_ARGUMENT", lambda: ix.search(np.ones(33, np.float32), 1))
        return e.message

    check("Index.add of a wrong width -> FROST_INVALID_ARGUMENT", wrong_width)

    def bad_index_file():
        path = os.path.join(data, "garbage.index")
        with open(path, "wb") as f:
            f.write(b"not an index at all" * 10)
        return expect_error("FROST_BAD_FILE", lambda: frost.Index.load(path), path).message

    check("Index.load of a damaged file -> FROST_BAD_FILE", bad_index_file)

    def cancel():
        calls = []

        def progress(done, total):
            calls.append((done, total))
            return done >= 1

        with frost.Model(weights, config=CONFIG, vocab=vocab, batch_size=1, progress=progress) as m:
            e = expect_error("FROST_CANCELLED", lambda: m.encode_text(captions[:3]))
            expect(calls == [(1, 3)], f"progress calls {calls}")
            calls.clear()
            expect_error("FROST_CANCELLED", lambda: m.encode_video(folders))
            expect(calls == [(1, 3)], f"progress calls {calls}")
            with frost.Index.create(m) as ix:
                expect_error("FROST_CANCELLED", lambda: ix.add_videos(m, folders))
                expect(len(ix) == 0, f"a cancelled add_videos left {len(ix)} items in the index")
        return e.message

    check("progress callback cancels -> FROST_CANCELLED", cancel)

    def progress_raises():
        class Stop(Exception):
            pass

        def progress(done, total):
            raise Stop(f"{done}/{total}")

        with frost.Model(weights, config=CONFIG, vocab=vocab, batch_size=2, progress=progress) as m:
            try:
                m.encode_text(captions)
                raise Mismatch("no exception")
            except Stop as e:
                expect(isinstance(e.__cause__, frost.Error) and e.__cause__.status == "FROST_CANCELLED",
                       f"cause {e.__cause__!r}")
            # A progress callback returning falsy lets calls finish, with the bits of the same batching.
            calls = []
            m2 = frost.Model(weights, config=CONFIG, vocab=vocab, batch_size=2,
                             progress=lambda d, t: calls.append((d, t)))
            equal_bits("with progress", m2.encode_text(captions),
                       cli_npy("text", captions, ("--vocab", vocab, "--batch", "2")))
            expect(calls == [(2, 6), (4, 6), (6, 6)], f"progress calls {calls}")
            m2.close()
        return "the callback's exception is raised from the call, chained to FROST_CANCELLED"

    check("progress callback exception", progress_raises)

    def threads():
        import threading
        want = model.encode_text(captions)
        results, errors = [None] * 4, []

        def work(i):
            try:
                results[i] = model.encode_text(captions)
            except Exception as e:  # pragma: no cover
                errors.append(e)

        ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        expect(not errors, f"errors {errors}")
        for r in results:
            equal_bits("a thread's encode_text", r, want)
        return "4 threads on one model give the same bits"

    check("one model from several threads", threads)

    def closing():
        m = frost.Model(weights, config=CONFIG, towers="text", vocab=vocab)
        with m:
            m.encode_text("dog")
        try:
            m.encode_text("dog")
            raise Mismatch("a closed model answered")
        except ValueError:
            pass
        m.close()
        expect_error("FROST_INVALID_ARGUMENT", lambda: frost.Model(weights, config=CONFIG, batch_size=5000),
                     "batch_size")
        try:
            frost.Model(weights, config=CONFIG, towers="sideways")
            raise Mismatch("towers='sideways' was accepted")
        except ValueError:
            pass
        return "close, context manager, towers='text', option values refused"

    check("close and options", closing)

    model.close()
    if failed:
        print(f"FAILED {len(failed)}: {', '.join(failed)}")
        return 1
    print("all checks passed")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="the frost source tree (holds python/ and tests/)")
    ap.add_argument("--frost", required=True, help="the frost command")
    ap.add_argument("--library", required=True, help="libfrost.so")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (venv, data)")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--venv", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        return run_checks(args)
    return setup_and_run(args)


if __name__ == "__main__":
    sys.exit(main())
