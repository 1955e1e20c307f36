"""Median and range of every figure in a log of benches/tools/interleave.sh, per build.

A figure is a line's text up to its label (`item 1000 of 2000`, `after 1000000 steps`,
`1000 concurrent runs`, `N= 1000`: the part between the mode's `]: ` and the next `: `),
with the numbers after it blanked out; each of those numbers is reported as
`median [min-max]` over the rounds, the old build's next to the new one's.
"""

import re
import statistics
import sys

NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def main(path):
    figures = {}  # template -> build -> list of number lists
    order = []
    build = None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        header = re.match(r"### round \d+ build (\S+)", line)
        if header:
            build = header.group(1)
            continue
        if not line.startswith("(") or build is None:
            continue
        line = " ".join(line.split())
        head, sep, rest = line.partition("]: ")
        if not sep:
            head, rest = "", line
        label, colon, tail = rest.partition(": ")
        if not colon or len(label) > 40:
            label, colon, tail = "", "", rest
        key = head + sep + label + colon
        numbers = NUMBER.findall(tail)
        template = key.replace("{", "{{").replace("}", "}}") + NUMBER.sub("{}", tail.replace("{", "{{").replace("}", "}}"))
        if template not in figures:
            figures[template] = {}
            order.append(template)
        figures[template].setdefault(build, []).append(numbers)
    for template in order:
        for build, rows in figures[template].items():
            cells = []
            for column in zip(*rows):
                values = [float(v.replace(",", "")) for v in column]
                decimals = len(column[0].split(".")[1]) if "." in column[0] else 0
                fmt = "{:.%df}" % decimals
                if min(values) == max(values):
                    cells.append(fmt.format(values[0]))
                else:
                    cells.append(
                        "%s [%s-%s]"
                        % (
                            fmt.format(statistics.median(values)),
                            fmt.format(min(values)),
                            fmt.format(max(values)),
                        )
                    )
            print("%-5s %s (%d runs)" % (build, template.format(*cells), len(rows)))


if __name__ == "__main__":
    main(sys.argv[1])
