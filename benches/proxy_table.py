"""Summarizes benches/proxy.sh runs: `python3 benches/proxy_table.py results.csv`.

Each line of the CSV is one run: round, proxy (turbine or haproxy), scenario, messages per
proxy CPU-second, p99 latency in ms, errors. The ratio Turbine / HAProxy is taken within each
round, where the two ran back to back, so a drift of the machine's speed over the minutes of the
benchmark cancels out; the table shows the median of those ratios and their range, with each
proxy's median figures beside them.
"""
import csv
import statistics
import sys

rows = [r for r in csv.reader(open(sys.argv[1])) if r]
scenarios = []
for r in rows:
    if r[2] not in scenarios:
        scenarios.append(r[2])


def runs(name, scenario):
    return {int(r[0]): (float(r[3]), float(r[4]), int(float(r[5]))) for r in rows
            if r[1] == name and r[2] == scenario}


print("| scenario | Turbine / HAProxy, msgs per proxy CPU-s (median of rounds) | range | "
      "Turbine (median) | HAProxy (median) | p99 Turbine / HAProxy (median) | errors |")
print("|---|---:|---|---:|---:|---:|---|")
for s in scenarios:
    t, h = runs("turbine", s), runs("haproxy", s)
    rounds = sorted(set(t) & set(h))
    ratios = [t[k][0] / h[k][0] for k in rounds]
    p99s = [t[k][1] / h[k][1] for k in rounds]
    errors = sum(t[k][2] + h[k][2] for k in rounds)
    print(f"| {s} | {statistics.median(ratios):.2f} | {min(ratios):.2f} to {max(ratios):.2f} | "
          f"{statistics.median(v[0] for v in t.values()):,.0f} | "
          f"{statistics.median(v[0] for v in h.values()):,.0f} | "
          f"{statistics.median(p99s):.2f} | {errors} |")
