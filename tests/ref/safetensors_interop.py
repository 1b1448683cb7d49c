#!/usr/bin/env python3
"""safetensors_interop.py — engine/safetensors.c against the reference `safetensors`
package (Hugging Face), both ways:
  (a) tests/st_interop.c writes a file; the reference reads it (safetensors.deserialize for
      raw bytes of every dtype incl. BF16, safe_open(...).metadata() and
      safetensors.numpy.load_file for values) and we check everything;
  (b) safetensors.numpy.save_file writes a file; `st_interop check` reads and checks it.
Usage: safetensors_interop.py PATH/TO/st_interop. Exits 77 (meson's skip) when the
package or numpy is missing: scripts/install-deps installs them."""
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import safetensors
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file
except ImportError as e:
    print(f"SKIP: the reference safetensors package is not importable ({e}); "
          "scripts/install-deps pip-installs it")
    sys.exit(77)

failures = 0


def expect(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL: {what}")


# Must match write_sample() in tests/st_interop.c.
C_TENSORS = {
    "w": ("F32", [2, 3], np.array([-1, -0.5, 0, 0.5, 1, 1.5], "<f4").reshape(2, 3)),
    "h": ("F16", [3], np.array([0x3C00, 0xC000, 0x3555], "<u2").view("<f2")),
    "bf": ("BF16", [2], struct.pack("<2H", 0x3F80, 0xC040)),
    "d": ("F64", [2], np.array([0.1, -1e300], "<f8")),
    "layers.0/i32": ("I32", [2, 2], np.array([-2**31, -1, 7, 2**31 - 1], "<i4").reshape(2, 2)),
    "i64": ("I64", [2], np.array([-5, 2**63 - 1], "<i8")),
    "i8": ("I8", [3], np.array([-128, 0, 127], "i1")),
    "u8": ("U8", [1, 4], np.array([[0, 1, 128, 255]], "u1")),
    "scalar": ("F32", [], np.array(2.5, "<f4")),
    "empty": ("F32", [0, 3], np.zeros((0, 3), "<f4")),
}
C_META = {"format": "np", "quote": 'a "b" \\c\\ d\n', "unicode": "héllo ☃ 𝄞"}


def check_c_file(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    expect(n % 8 == 0, f"header length {n} is not a multiple of 8")
    # (1) the reference parser on raw bytes: names, dtypes, shapes and bytes of every tensor
    got = dict(safetensors.deserialize(raw))
    expect(set(got) == set(C_TENSORS), f"tensor names {sorted(got)}")
    for name, (dtype, shape, value) in C_TENSORS.items():
        if name not in got:
            continue
        t = got[name]
        want = value if isinstance(value, bytes) else value.tobytes()
        expect(t["dtype"] == dtype, f"{name}: dtype {t['dtype']}, expected {dtype}")
        expect(list(t["shape"]) == shape, f"{name}: shape {t['shape']}, expected {shape}")
        expect(bytes(t["data"]) == want, f"{name}: bytes differ")
    # (2) metadata through safe_open
    with safe_open(path, framework="np") as f:
        expect(f.metadata() == C_META, f"metadata {f.metadata()!r}")
        expect(set(f.keys()) == set(C_TENSORS), f"safe_open keys {sorted(f.keys())}")
    # (3) values through numpy (numpy has no bfloat16: that one is checked as bytes above)
    try:
        arrays = load_file(path)
        for name, (dtype, shape, value) in C_TENSORS.items():
            if dtype == "BF16":
                continue
            a = arrays.get(name)
            expect(a is not None and a.shape == tuple(shape) and a.dtype == value.dtype
                   and np.array_equal(a, value), f"{name}: load_file gave {a!r}")
    except (TypeError, ValueError, safetensors.SafetensorError) as e:
        # Versions without a numpy stand-in for BF16 refuse the whole file; check the others
        # through safe_open one by one instead.
        print(f"note: load_file refused the BF16 tensor ({e}); reading the others one by one")
        with safe_open(path, framework="np") as f:
            for name, (dtype, shape, value) in C_TENSORS.items():
                if dtype == "BF16":
                    continue
                a = f.get_tensor(name)
                expect(a.shape == tuple(shape) and a.dtype == value.dtype
                       and np.array_equal(a, value), f"{name}: get_tensor gave {a!r}")
    print(f"reference read our file: {len(C_TENSORS)} tensors, {len(C_META)} metadata entries")


# Must match check_python_file() in tests/st_interop.c.
PY_TENSORS = {
    "a": (np.arange(6, dtype="<f4").reshape(2, 3) * 0.25),
    "b": np.array([-3, 2**40], "<i8"),
    "c": np.array([1.5, -2.0], "<f2"),
    "d": np.array([0, 7, 255], "u1"),
    "e": np.array([True, False, True]),
    "f": np.array(3.25, "<f8"),
    "g": np.zeros((0,), "<i4"),
    "h": np.array([[-1], [2]], "i1"),
    "u16": np.array([0, 65535], "<u2"),
    "u32": np.array([4000000000], "<u4"),
    "u64": np.array([2**64 - 1], "<u8"),
    "i16": np.array([-32768, 32767], "<i2"),
}
PY_META = {"source": "python", "ünï": 'çødé "q" \\ ☃'}


def main():
    if len(sys.argv) != 2:
        print("usage: safetensors_interop.py PATH/TO/st_interop")
        return 2
    tool = sys.argv[1]
    print(f"safetensors {safetensors.__version__}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory(prefix="bb-st-interop-") as d:
        ours = os.path.join(d, "from_c.safetensors")
        r = subprocess.run([tool, "write", ours])
        expect(r.returncode == 0, f"st_interop write exited {r.returncode}")
        if r.returncode == 0:
            check_c_file(ours)
        theirs = os.path.join(d, "from_python.safetensors")
        save_file(PY_TENSORS, theirs, metadata=PY_META)
        r = subprocess.run([tool, "check", theirs])
        expect(r.returncode == 0, f"st_interop check exited {r.returncode}")
    print("PASS" if failures == 0 else f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
