#!/usr/bin/env python3
"""Per-request breakdowns of a callgrind profile (as bench/profile/callgrind.sh writes it).

callgrind_annotate 3.19 puts every cost of these dumps on the program's entry point, so this
reads the file itself. Costs are divided by REQUESTS.

usage:
  callgrind_report.py self FILE REQUESTS [TOP]         functions by their own cost
  callgrind_report.py callees FILE REQUESTS FUNCTION   what FUNCTION calls (inclusive costs)
  callgrind_report.py callers FILE REQUESTS FUNCTION   who calls FUNCTION, and how often
  callgrind_report.py lines FILE REQUESTS PATTERN      own cost by source line of matching functions
"""
import collections
import re
import signal
import sys


class Profile:
    """Own costs by function and by (function, file:line), call edges with inclusive costs."""

    def __init__(self, path):
        self.names = {}
        self.own = collections.Counter()
        self.lines = collections.Counter()
        self.edges = collections.Counter()
        self.calls = collections.Counter()
        fn = cfn = file = None
        line = 0
        pending_calls = None
        for raw in open(path, errors="replace"):
            raw = raw.rstrip("\n")
            if raw.startswith("fn="):
                fn = self.name("fn", raw[3:])
                continue
            if raw.startswith("cfn="):
                cfn = self.name("fn", raw[4:])
                continue
            if raw.startswith(("fl=", "fi=", "fe=")):
                file = self.name("fl", raw[3:])
                continue
            if raw.startswith(("cfi=", "cfl=")):
                self.name("fl", raw[4:])
                continue
            if raw.startswith(("ob=", "cob=")):
                continue
            if raw.startswith("calls="):
                pending_calls = int(raw[6:].split()[0])
                continue
            if not raw or not (raw[0].isdigit() or raw[0] in "+-*"):
                continue
            parts = raw.split()
            position = parts[0]
            if position[0] in "+-":
                line += int(position)
            elif position != "*":
                line = int(position)
            if len(parts) < 2:
                continue
            cost = int(parts[1])
            if pending_calls is not None:
                self.edges[(fn, cfn)] += cost
                self.calls[(fn, cfn)] += pending_calls
                pending_calls = None
            else:
                self.own[fn] += cost
                where = (file or "?").split("/src/")[-1]
                self.lines[(fn, f"{where}:{line}")] += cost

    def name(self, kind, text):
        """Callgrind's name compression: `(n) name` defines, `(n)` refers."""
        match = re.match(r"\((\d+)\)(?: (.*))?", text)
        if not match:
            return text
        key = (kind, match.group(1))
        if match.group(2) is not None:
            self.names[key] = match.group(2)
        return self.names.get(key, text)


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    command, path, requests = argv[1], argv[2], float(argv[3])
    profile = Profile(path)
    total = sum(profile.own.values())
    if command == "self":
        top = int(argv[4]) if len(argv) > 4 else 40
        print(f"{total / requests:,.0f} instructions per request")
        for fn, cost in profile.own.most_common(top):
            print(f"{cost / requests:9.1f} {100 * cost / total:5.1f}%  {fn[:150]}")
    elif command == "callees":
        target = argv[4]
        own = profile.own[target]
        edges = [(c, cost) for (f, c), cost in profile.edges.items() if f == target]
        print(f"{target}: own {own / requests:.0f}, with callees {(own + sum(c for _, c in edges)) / requests:.0f}")
        for callee, cost in sorted(edges, key=lambda e: -e[1])[:40]:
            print(f"{cost / requests:9.1f}  {callee[:150]}")
    elif command == "callers":
        target = argv[4]
        edges = [(f, cost) for (f, c), cost in profile.edges.items() if c == target]
        for caller, cost in sorted(edges, key=lambda e: -e[1])[:30]:
            calls = profile.calls[(caller, target)] / requests
            print(f"{cost / requests:9.1f} {calls:6.2f} calls  {caller[:150]}")
    elif command == "lines":
        pattern = argv[4]
        costs = collections.Counter()
        for (fn, where), cost in profile.lines.items():
            if pattern in fn:
                costs[where] += cost
        for where, cost in costs.most_common(40):
            print(f"{cost / requests:9.1f}  {where}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quietly, into `head`
    main(sys.argv)
