"""One line per JSON report of bench/cases_throughput.py: `python bench/summarise.py FILE...`."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    head = (
        f"{'file':34} {'db':10} {'w':>2} {'what-if':34} {'cases/s':>8} {'p50':>7} {'p99':>8} {'err':>4} "
        f"{'srv ms/case':>11} {'pg ms/case':>10} {'srv cores':>9} {'other':>6}"
    )
    print(head)
    for name in sys.argv[1:]:
        report = json.loads(Path(name).read_text())
        if "results" not in report:  # not a cases_throughput.py report
            continue
        for db, r in report["results"].items():
            load = r["load"]
            cores = load["cpu_cores_used"]
            print(
                f"{Path(name).stem[:34]:34} {db:10} {r['server_workers']:>2} "
                f"{','.join(r.get('what_if', [])) or '-':34} {load['cases_per_s']:>8} {load['p50_ms']:>7} "
                f"{load['p99_ms']:>8} {load['errors']:>4} {load['server_cpu_ms_per_case']:>11} "
                f"{load['postgres_cpu_ms_per_case']:>10} {cores['server']:>9} {cores['other']:>6}"
            )


if __name__ == "__main__":
    main()
