"""Where a `perf record --call-graph dwarf` profile of a bench spent its samples, by function.

perf 6.1 (Debian 12's) prints raw addresses for rustc's binaries instead of their functions,
debug info or not. Linked with bfd (`RUSTFLAGS=-Clink-arg=-fuse-ld=bfd`), the addresses it
prints are the file's own, so the binary's symbol table (`nm`) resolves them; this script
does that for every frame of `perf script` and sums the samples per function: the threads'
shares, then inclusive ("somewhere in the call chain") and self ("the frame that ran")
percentages.

    RUSTFLAGS=-Clink-arg=-fuse-ld=bfd CARGO_PROFILE_BENCH_DEBUG=line-tables-only \\
        CARGO_TARGET_DIR=target-prof cargo bench --bench perf --no-run
    perf record -F 4000 -g --call-graph dwarf,16384 -o perf.data BENCH_BINARY starts
    python3 benches/tools/perfsym.py BENCH_BINARY perf.data [FILTER]

With FILTER, only the samples whose chain has a function containing it count (say
`group_commit::Inline` for the committer thread's).
"""

import bisect
import collections
import subprocess
import sys


def symbols(binary):
    """(start addresses, names) of the binary's functions, sorted."""
    table = []
    listing = subprocess.run(
        ["nm", "-C", "--defined-only", binary], capture_output=True, text=True, check=True
    ).stdout
    for line in listing.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tTwW":
            table.append((int(parts[0], 16), parts[2]))
    table.sort()
    return [start for start, _ in table], [name for _, name in table]


def short(name):
    """`name` without generic arguments and hash, at most 110 characters."""
    out, depth = [], 0
    for c in name:
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif depth == 0:
            out.append(c)
    name = "".join(out)
    if "::h" in name[-20:]:
        name = name[: name.rfind("::h")]
    return name[-110:]


def main():
    binary, data = sys.argv[1], sys.argv[2]
    wanted = sys.argv[3] if len(sys.argv) > 3 else None
    starts, names = symbols(binary)
    own = binary.split("/")[-1]
    script = subprocess.run(
        ["perf", "script", "-i", data, "-F", "comm,tid,ip,sym,dso"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    own_time, inclusive, threads = (collections.Counter() for _ in range(3))
    total = 0
    for sample in script.split("\n\n"):
        lines = sample.strip("\n").splitlines()
        if not lines:
            continue
        frames = []
        for line in lines[1:]:
            line = line.strip()
            if not line or line.endswith("(inlined)"):
                continue
            address, rest = line.split(" ", 1)
            dso = rest[rest.rfind("(") + 1 : -1]
            symbol = rest[: rest.rfind("(")].strip()
            if own in dso:
                index = bisect.bisect_right(starts, int(address, 16)) - 1
                symbol = short(names[index]) if index >= 0 else address
            elif not symbol or symbol == "[unknown]":
                symbol = dso.split("/")[-1] + ":?"
            frames.append(symbol)
        if not frames or (wanted and not any(wanted in f for f in frames)):
            continue
        total += 1
        threads[lines[0].split()[0]] += 1
        own_time[frames[0]] += 1
        for frame in set(frames):
            inclusive[frame] += 1
    print("samples", total)
    for thread, n in threads.most_common():
        print(f"{100 * n / total:6.2f}% thread {thread}")
    print("--- inclusive")
    for frame, n in inclusive.most_common(70):
        print(f"{100 * n / total:6.2f}% {frame}")
    print("--- self")
    for frame, n in own_time.most_common(40):
        print(f"{100 * n / total:6.2f}% {frame}")


if __name__ == "__main__":
    main()
