#!/usr/bin/env python3
"""Writes a customer-table CSV of at least --mb megabytes for the throughput benchmark: 20,000
distinct Faker rows (several locales; names, e-mails, phones, addresses, cards, IBANs, dates,
free-text notes, amounts), repeated with fresh row ids until the size is reached. Seeded."""
import argparse
import os
import csv
import datetime
import random
import sys

from faker import Faker

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    r = random.Random(11)
    fakers = [Faker(l) for l in LOCALES]
    for i, f in enumerate(fakers):
        f.seed_instance(11 + i)
    rows = []
    for _ in range(20000):
        f = r.choice(fakers)
        note = r.choice([
            "", "renewal due", f"call back on {f.phone_number()}", f"prefers email, lives in {f.city()}",
            "VIP customer, no marketing", f"paid invoice INV-{r.randint(10000, 99999)}", f"card ending {r.randint(1000, 9999)}",
        ])
        rows.append([f.name(), f.email(), f.phone_number(), f.street_address(), f.city(), f.postcode(),
                     f.credit_card_number() if r.random() < 0.3 else "", f.iban() if r.random() < 0.2 else "",
                     f.date_between(start_date=datetime.date(1940, 1, 1), end_date=datetime.date(2007, 12, 31)).isoformat(), f"{r.uniform(10, 5000):.2f}", note])
    target = a.mb * 1_000_000
    written = 0
    with open(a.out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "email", "phone", "street", "city", "postcode", "card", "iban", "birth_date",
                    "balance", "notes"])
        n = 0
        while written < target:
            for row in rows:
                n += 1
                line = [n] + row
                w.writerow(line)
                written += sum(len(str(x)) for x in line) + 12
                if written >= target:
                    break


if __name__ == "__main__":
    # Some Faker providers pick from sets, whose order depends on the string hash seed: pin it
    # so the same --seed always gives the same corpus.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    main()
