"""Rewrite kernel.json from kernel.toml: ``python -m dumptriage.dump.kernel.layouts.compile``."""

from __future__ import annotations

from dumptriage.dump.kernel.layouts import write_compiled

if __name__ == "__main__":
    print(f"wrote {write_compiled()}")
