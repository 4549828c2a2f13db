"""Benchmark: price many CDRs under a multi-element tariff, in-process, on one core.

    .venv/bin/python bench/bench_pricing.py --count 100000

The tariff has a start fee, peak / off-peak / weekend energy, charging time after the first hour, and
parking by day (09:00-18:00) and evening, with step sizes and VAT; each CDR has 4-6 periods in
Europe/Amsterdam local time. A pool of distinct CDR values is built first (not timed) and priced in
turn. Printed: CDRs/s, p50 / p99 per CDR, peak memory (tracemalloc over a sample, and the process's max
RSS), and a baseline in the same run: the simplest loop doing the same Decimal arithmetic (volume x a fixed
price per period, no restrictions, no step size, one rounding). The 1-minute load average is printed at the
start and at the end: CPU-time figures are only comparable between runs at a similar load.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from cdr_pricing import (
    Cdr,
    ChargingPeriod,
    compile_tariff,
    price_cdr,
    price_cdr_json,
    tariff_from_ocpi,
)

ZONE = "Europe/Amsterdam"
WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]

TARIFF: dict[str, Any] = {
    "country_code": "NL",
    "party_id": "CPO",
    "id": "BENCH",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.35, "vat": 21, "step_size": 1}]},
        {
            "price_components": [{"type": "ENERGY", "price": 0.39, "vat": 21, "step_size": 100}],
            "restrictions": {"start_time": "07:00", "end_time": "23:00", "day_of_week": WEEKDAYS},
        },
        {
            "price_components": [{"type": "ENERGY", "price": 0.29, "vat": 21, "step_size": 100}],
            "restrictions": {"day_of_week": ["SATURDAY", "SUNDAY"]},
        },
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 21, "step_size": 100}]},
        {
            "price_components": [{"type": "TIME", "price": 1.20, "vat": 21, "step_size": 60}],
            "restrictions": {"min_duration": 3600, "start_time": "07:00", "end_time": "23:00"},
        },
        {
            "price_components": [{"type": "PARKING_TIME", "price": 6.00, "vat": 21, "step_size": 300}],
            "restrictions": {"start_time": "09:00", "end_time": "18:00", "day_of_week": WEEKDAYS},
        },
        {
            "price_components": [{"type": "PARKING_TIME", "price": 2.40, "vat": 21, "step_size": 300}],
            "restrictions": {"start_time": "18:00", "end_time": "23:00"},
        },
    ],
    "last_updated": "2024-01-01T00:00:00Z",
}

# Baseline prices: one fixed price per dimension, as simple as it gets.
BASE_ENERGY, BASE_TIME, BASE_PARKING, BASE_FLAT = (
    Decimal("0.39"),
    Decimal("1.20"),
    Decimal("6.00"),
    Decimal("0.35"),
)
CENT = Decimal("0.01")


def make_cdrs(count: int, seed: int) -> list[Cdr]:
    """`count` distinct CDRs: 3-5 charging periods of 10-90 minutes, then one parking period."""
    rng = random.Random(seed)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    cdrs = []
    for _ in range(count):
        start = base + timedelta(minutes=rng.randrange(366 * 24 * 60))
        moment, periods = start, []
        for _ in range(rng.randint(3, 5)):
            minutes = rng.randint(10, 90)
            periods.append(
                ChargingPeriod(
                    moment,
                    energy=Decimal(rng.randint(500, 40_000)).scaleb(-3),
                    time=(Decimal(minutes) / 60).quantize(Decimal("0.0001")),
                    max_power=Decimal(rng.randint(3, 150)),
                )
            )
            moment += timedelta(minutes=minutes)
        parking = rng.randint(1, 120)
        periods.append(
            ChargingPeriod(moment, parking_time=(Decimal(parking) / 60).quantize(Decimal("0.0001")))
        )
        cdrs.append(Cdr(start, moment + timedelta(minutes=parking), tuple(periods), currency="EUR"))
    return cdrs


def baseline(cdr: Cdr) -> Decimal:
    """The same Decimal arithmetic without any tariff logic: volume x fixed price, rounded once."""
    total = BASE_FLAT
    for period in cdr.charging_periods:
        if period.energy:
            total += period.energy * BASE_ENERGY
        if period.time:
            total += period.time * BASE_TIME
        if period.parking_time:
            total += period.parking_time * BASE_PARKING
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


def run(label: str, func: Callable[[Cdr], object], pool: Sequence[Cdr], count: int) -> float:
    """Price `count` CDRs cycling through `pool`; print throughput and latency; return CDRs/s.

    CDRs/s is measured on wall time and on the process's CPU time (the second is what one core can do
    when other processes share the machine); latencies are wall time per call.
    """
    timings = [0] * count
    clock = time.perf_counter_ns
    size = len(pool)
    gc.collect()
    cpu_started = time.process_time()
    started = clock()
    for i in range(count):
        cdr = pool[i % size]
        t0 = clock()
        func(cdr)
        timings[i] = clock() - t0
    elapsed = (clock() - started) / 1e9
    cpu = time.process_time() - cpu_started
    timings.sort()
    rate, cpu_rate = count / elapsed, count / cpu
    p50 = timings[count // 2] / 1000
    p99 = timings[min(count - 1, int(count * 0.99))] / 1000
    print(
        f"{label:<36} {rate:>9,.0f} CDRs/s wall {cpu_rate:>9,.0f} CDRs/s cpu"
        f"   p50 {p50:7.1f} us   p99 {p99:7.1f} us"
    )
    return cpu_rate


def peak_memory(func: Callable[[Cdr], object], pool: Sequence[Cdr], sample: int) -> int:
    gc.collect()
    tracemalloc.start()
    for cdr in pool[:sample]:
        func(cdr)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def as_json(cdr: Cdr) -> dict[str, Any]:
    dims = (
        ("ENERGY", "energy"),
        ("TIME", "time"),
        ("PARKING_TIME", "parking_time"),
        ("MAX_POWER", "max_power"),
    )
    return {
        "start_date_time": cdr.start_date_time.isoformat(),
        "end_date_time": cdr.end_date_time.isoformat(),
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": p.start_date_time.isoformat(),
                "dimensions": [{"type": k, "volume": str(getattr(p, f))} for k, f in dims if getattr(p, f)],
            }
            for p in cdr.charging_periods
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000, help="CDRs to price (default 100000)")
    parser.add_argument("--pool", type=int, default=20_000, help="distinct CDR values to cycle through")
    parser.add_argument("--seed", type=int, default=2211)
    parser.add_argument("--target", type=float, default=30_000.0, help="CDRs/s (CPU time) to report against")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is not met")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    pool = make_cdrs(min(args.count, args.pool), args.seed)
    tariff = compile_tariff(tariff_from_ocpi(TARIFF))

    def engine(cdr: Cdr) -> object:
        return price_cdr(cdr, tariff, ZONE)

    engine(pool[0])  # warm the zone cache
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f} on {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    print(f"pricing {args.count:,} CDRs ({len(pool):,} distinct, 4-6 periods, 7 elements) on one core")
    rate = run("cdr_pricing.price_cdr", engine, pool, args.count)
    base_rate = run("baseline (Decimal, no tariff logic)", baseline, pool, args.count)
    json_pool = [as_json(c) for c in pool[: min(len(pool), 5_000)]]
    json_count = min(args.count, 10_000)
    started = time.perf_counter()
    for i in range(json_count):
        price_cdr_json(TARIFF, json_pool[i % len(json_pool)], ZONE)
    json_rate = json_count / (time.perf_counter() - started)
    print(f"{'price_cdr_json (dicts in and out)':<36} {json_rate:>9,.0f} CDRs/s wall   ({json_count:,} CDRs)")

    sample = min(len(pool), 2_000)
    peak = peak_memory(engine, pool, sample)
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak traced memory while pricing {sample:,} CDRs: {peak / 1024:,.0f} KiB")
    print(f"process max RSS: {rss_kib / 1024:,.0f} MiB")
    verdict = "met" if rate >= args.target else "NOT met"
    if hasattr(os, "getloadavg"):
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    print(f"engine: {base_rate / rate:.1f}x the baseline's CPU time per CDR")
    print(f"target {args.target:,.0f} CDRs/s (CPU time): {verdict}")
    raise SystemExit(1 if args.strict and rate < args.target else 0)


if __name__ == "__main__":
    main()
