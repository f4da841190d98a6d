#!/usr/bin/env python3
"""Replays every file of Tests/Fixtures/hostile/ through an fkdc binary, the way
Tests/DriverTests/HostileInputTests.swift does, and prints per command: exit code or signal,
wall seconds and peak RSS. Point FKDC at an older build to see which fixtures crashed it.

    python3 bench/hostile_replay.py                         # .build/debug/fkdc
    FKDC=/path/to/old/fkdc python3 bench/hostile_replay.py  # before a fix
"""
import os, resource, shutil, signal, subprocess, sys, tempfile, time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
fkdc = os.environ.get("FKDC", os.path.join(root, ".build", "debug", "fkdc"))
folder = "Tests/Fixtures/hostile/"
tiny, tiny_input = "Tests/Fixtures/valid/tiny_bn.fkir", "Tests/Fixtures/valid/x_1x3x8x8.npy"


def commands(f, scratch):
    path, out = folder + f, os.path.join(scratch, "out")
    ext = f.rsplit(".", 1)[-1]
    if ext in ("png", "jpg", "jpeg"):
        os.makedirs(os.path.join(scratch, "calib", "a"))
        shutil.copy(os.path.join(root, path), os.path.join(scratch, "calib", "a", f))
        return [["compile", tiny, "--calib", os.path.join(scratch, "calib"), "--strict", "-o", out]]
    if ext == "npy":
        return [["run", tiny, "--input", path], ["compile", tiny, "--calib", path, "-o", out]]
    if ext == "fkdc":
        return [["inspect", path], ["run", path, "--input", tiny_input]]
    if ext == "fkir":
        return [["inspect", path], ["run", path, "--input", tiny_input], ["compile", path, "-o", out]]
    return [["inspect", path], ["compile", path, "-o", out]]


def main():
    worst_rss, worst_s, bad = 0, 0.0, 0
    env = dict(os.environ, SWIFT_BACKTRACE="enable=no")
    for f in sorted(os.listdir(os.path.join(root, folder))):
        scratch = tempfile.mkdtemp()
        try:
            for args in commands(f, scratch):
                before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                t = time.time()
                try:
                    r = subprocess.run([fkdc] + args, cwd=root, env=env, capture_output=True, timeout=10)
                    code = r.returncode
                    what = "exit %d" % code if code >= 0 else "SIG%s" % signal.Signals(-code).name[3:]
                except subprocess.TimeoutExpired:
                    code, what = None, "HANG >10 s"
                s = time.time() - t
                rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # high-water mark, KiB
                rss_note = "%7.0f MB" % (rss / 1024) if rss > before else "   (≤ above)"
                worst_rss, worst_s = max(worst_rss, rss), max(worst_s, s)
                bad += code != 2
                print("%-36s %-8s %-11s %6.2f s %s" % (f, args[0], what, s, rss_note))
        finally:
            shutil.rmtree(scratch)
    print("commands not exiting 2: %d; slowest %.2f s; peak RSS of any run ≤ %.0f MB" % (bad, worst_s, worst_rss / 1024))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
