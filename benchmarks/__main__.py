"""`python -m benchmarks NAME [options]`, the same entry `voicewire bench NAME` calls."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("sdk", "capacity", "latency", "turns", "replies", "vad_gate", "vad_cost", "attacks", "soak")


def run(name: str, argv: list[str] | None = None) -> int:
    """Run one benchmark by name with its own command-line options."""
    if name not in BENCHMARKS:
        print(f"unknown benchmark {name!r}; choose one of: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"benchmarks.{name}")
    code: int = module.main(argv)
    return code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(f"usage: python -m benchmarks {{{','.join(BENCHMARKS)}}} [--quick] [--json PATH] ...")
        return 0 if args else 2
    return run(args[0], args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
