#!/usr/bin/env python3
"""Generates a labelled PII/secret corpus with Faker: one JSON object per line,
{"id": n, "kind": "prose|log|config|csv|chat|negative", "locale": "de_DE", "text": "...",
 "spans": [{"type": "EMAIL_ADDRESS", "start": 10, "end": 27}]}, offsets in Python str indices.

Nine locales; prose, news-style sentences without cue words, logs, configs, CSV-in-text, chat with emoji and CJK (so code-point offsets
are exercised) and hard negatives (order numbers, versions, hashes, UUIDs, timestamps,
Luhn-invalid cards, documentation placeholder keys) that must not be reported.

Everything is seeded: the same --seed gives the same corpus.
"""
import argparse
import os
import base64
import datetime
import hashlib
import json
import random
import sys
import string

from faker import Faker

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "ja_JP"]
START = datetime.datetime(1990, 1, 1)
END = datetime.datetime(2025, 12, 31)
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58check(payload: bytes) -> str:
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.fakers = {loc: Faker(loc) for loc in LOCALES}
        for i, f in enumerate(self.fakers.values()):
            f.seed_instance(seed + i)
        self.en = self.fakers["en_US"]

    def rs(self, alphabet, n):
        return "".join(self.r.choice(alphabet) for _ in range(n))

    # --- entity values -------------------------------------------------------------------
    def person(self, f):
        return f.name()

    def location(self, f):
        c = self.r.random()
        if c < 0.45:
            return f.city()
        if c < 0.75:
            return self.en.country()
        if c < 0.9 and hasattr(f, "state"):
            try:
                return f.state()
            except AttributeError:
                pass
        return self.r.choice(["Paris", "Berlin", "Tokyo", "Madrid", "Lisbon", "Chicago", "Toronto",
                              "Amsterdam", "Rome", "Sydney", "Mumbai", "São Paulo", "Zürich"])

    def card(self):
        c = self.r.random()
        if c < 0.25:  # Mastercard 2-series
            prefix = str(self.r.randint(2221, 2720))
            body = prefix + self.rs(string.digits, 11)
            num = body + luhn_digit(body)
        else:
            num = self.en.credit_card_number(card_type=self.r.choice(["visa16", "mastercard", "amex", "discover"]))
        if self.r.random() < 0.5 and len(num) == 16:
            num = " ".join(num[i:i + 4] for i in range(0, 16, 4))
        return num

    def iban(self):
        iban = self.r.choice(list(self.fakers.values())).iban()
        if self.r.random() < 0.5:
            iban = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
        return iban

    def ssn(self):
        while True:
            area = self.r.randint(1, 899)
            if area != 666:
                break
        return f"{area:03d}-{self.r.randint(1, 99):02d}-{self.r.randint(1, 9999):04d}"

    def nhs(self):
        while True:
            d = [self.r.randint(0, 9) for _ in range(9)]
            s = sum(x * (10 - i) for i, x in enumerate(d))
            c = 11 - s % 11
            if c == 11:
                c = 0
            if c != 10:
                n = "".join(map(str, d)) + str(c)
                return f"{n[:3]} {n[3:6]} {n[6:]}"

    def btc(self):
        return b58check(b"\x00" + self.r.randbytes(20))

    def eth(self):
        return "0x" + self.r.randbytes(20).hex()

    def ip(self):
        return self.en.ipv4_public() if self.r.random() < 0.7 else self.en.ipv6()

    def date(self, f):
        c = self.r.random()
        if c < 0.3:
            return f.date_between(start_date=START.date(), end_date=END.date()).isoformat()
        if c < 0.6:
            return self.dt().isoformat(sep=" ", timespec="seconds")
        return self.dt().strftime("%B %d, %Y")

    def dt(self):
        """A date-time in a fixed range (Faker's default range ends today, which changes)."""
        return self.en.date_time_between(start_date=START, end_date=END)

    # secrets
    def aws_id(self):
        return "AKIA" + self.rs("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)

    def aws_secret(self):
        return self.rs(string.ascii_letters + string.digits + "+/", 40)

    def github(self):
        return "ghp_" + self.rs(string.ascii_letters + string.digits, 36)

    def slack(self):
        return f"xoxb-{self.rs(string.digits, 12)}-{self.rs(string.digits, 13)}-{self.rs(string.ascii_letters + string.digits, 24)}"

    def stripe(self):
        return "sk_live_" + self.rs(string.ascii_letters + string.digits, 24)

    def google(self):
        return "AIza" + self.rs(string.ascii_letters + string.digits + "-_", 35)

    def openai(self):
        return "sk-proj-" + self.rs(string.ascii_letters + string.digits + "-_", 48) + "T3BlbkFJ" + self.rs(string.ascii_letters + string.digits, 20)

    def jwt(self):
        enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = enc(json.dumps({"sub": str(self.r.randint(1, 10**6)), "iat": self.r.randint(1.6e9, 1.8e9)}).encode())
        return f"{head}.{body}.{enc(self.r.randbytes(32))}"

    def pem(self):
        body = base64.b64encode(self.r.randbytes(120)).decode()
        lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
        return f"-----BEGIN RSA PRIVATE KEY-----\n{lines}\n-----END RSA PRIVATE KEY-----"

    def generic(self):
        return self.rs(string.ascii_letters + string.digits + "!#%^*", self.r.randint(20, 32))


class Doc:
    """Builds a text while recording gold spans."""

    def __init__(self):
        self.parts = []
        self.spans = []
        self.n = 0

    def t(self, s):
        self.parts.append(s)
        self.n += len(s)
        return self

    def e(self, kind, value):
        self.spans.append({"type": kind, "start": self.n, "end": self.n + len(value)})
        return self.t(value)

    def text(self):
        return "".join(self.parts)


def prose(g, f, d, loc):
    r = g.r
    who = g.person(f)
    d.t(r.choice(["Customer ", "Patient ", "Dear ", "Applicant ", "Contact: "])).e("PERSON", who)
    d.t(r.choice([" lives in ", " moved to ", ", resident of ", " was born in "])).e("LOCATION", g.location(f))
    d.t(r.choice([". Reach them at ", ". E-mail: ", "; mail "])).e("EMAIL_ADDRESS", f.email())
    d.t(r.choice([" or call ", ", phone ", " / tel. "])).e("PHONE_NUMBER", f.phone_number())
    c = r.random()
    if c < 0.2:
        d.t(". Card on file: ").e("CREDIT_CARD", g.card())
    elif c < 0.35:
        d.t(". IBAN ").e("IBAN_CODE", g.iban())
    elif c < 0.45 and loc == "en_US":
        d.t(". SSN ").e("US_SSN", g.ssn())
    elif c < 0.55 and loc == "en_GB":
        d.t(". NHS number ").e("UK_NHS", g.nhs())
    elif c < 0.65:
        d.t(". Visit on ").e("DATE_TIME", g.date(f))
    elif c < 0.75:
        d.t(". Profile: ").e("URL", f.url())
    elif c < 0.82:
        d.t(". Donations to ").e("CRYPTO", g.btc() if r.random() < 0.5 else g.eth())
    elif c < 0.88 and loc == "en_US":
        d.t(". Passport number ").e("US_PASSPORT", g.rs(string.digits, 9))
    elif c < 0.94 and loc == "en_US":
        d.t(". Driver license ").e("US_DRIVER_LICENSE", g.rs(string.ascii_uppercase, 1) + g.rs(string.digits, 7))
    else:
        d.t(". Bank account number ").e("US_BANK_NUMBER", g.rs(string.digits, r.randint(10, 12)))
    d.t(".")


def log(g, f, d, loc):
    r = g.r
    d.e("DATE_TIME", g.dt().strftime("%Y-%m-%d %H:%M:%S"))
    d.t(f" INFO req={g.rs('0123456789abcdef', 16)} client=").e("IP_ADDRESS", g.ip())
    d.t(" user=").e("EMAIL_ADDRESS", f.email())
    c = r.random()
    if c < 0.25:
        d.t(" auth=Bearer ").e("SECRET_JWT", g.jwt())
    elif c < 0.45:
        d.t(" referer=").e("URL", f.url() + "login?next=%2F")
    elif c < 0.6:
        d.t(" took=").t(f"{r.randint(1, 900)}ms build=").t(f"{r.randint(1, 9)}.{r.randint(0, 30)}.{r.randint(0, 99)}")
    else:
        d.t(f" status={r.choice([200, 201, 404, 500])} bytes={r.randint(100, 99999)}")


def config(g, f, d, loc):
    r = g.r
    c = r.random()
    if c < 0.2:
        d.t("AWS_ACCESS_KEY_ID=").e("SECRET_AWS_ACCESS_KEY", g.aws_id())
        d.t("\nAWS_SECRET_ACCESS_KEY=").e("SECRET_AWS_SECRET_KEY", g.aws_secret())
    elif c < 0.32:
        d.t("GITHUB_TOKEN=").e("SECRET_GITHUB_TOKEN", g.github())
    elif c < 0.42:
        d.t('slack_bot_token: "').e("SECRET_SLACK_TOKEN", g.slack()).t('"')
    elif c < 0.52:
        d.t("STRIPE_SECRET_KEY=").e("SECRET_STRIPE_KEY", g.stripe())
    elif c < 0.62:
        d.t('"maps_api_key": "').e("SECRET_GOOGLE_API_KEY", g.google()).t('"')
    elif c < 0.72:
        d.t("OPENAI_API_KEY=").e("SECRET_OPENAI_KEY", g.openai())
    elif c < 0.8:
        d.t("key.pem: |\n").e("SECRET_PRIVATE_KEY", g.pem())
    elif c < 0.9:
        d.t(r.choice(["db_password = ", "client_secret: ", "API_SECRET="])).e("SECRET_GENERIC", g.generic())
    else:
        d.t("admin_email = ").e("EMAIL_ADDRESS", f.email()).t("\nlisten = 0.0.0.0:8080\nworkers = 4")
    d.t(f"\nregion = {r.choice(['eu-west-1', 'us-east-2'])}\ntimeout = {r.randint(5, 60)}")


def csvline(g, f, d, loc):
    r = g.r
    d.t(f"{r.randint(1, 99999)},").e("PERSON", g.person(f)).t(",").e("EMAIL_ADDRESS", f.email()).t(",")
    d.e("PHONE_NUMBER", f.phone_number()).t(",").e("LOCATION", g.location(f)).t(f",{r.randint(18, 90)},")
    if r.random() < 0.5:
        d.e("CREDIT_CARD", g.card())
    else:
        d.t(f"{r.randint(100, 999)}.{r.randint(10, 99)}")


def chat(g, f, d, loc):
    r = g.r
    emo = r.choice(["😀", "🙏", "👍🏽", "🔥", "✨"])
    if loc == "ja_JP":
        d.t(f"こんにちは{emo} 私は").e("PERSON", g.person(f)).t("です。メールは ").e("EMAIL_ADDRESS", f.email())
        d.t(" 、電話は ").e("PHONE_NUMBER", f.phone_number()).t(" です。")
    else:
        d.t(f"hey {emo} it's ").e("PERSON", g.person(f)).t(r.choice([" here! ", " 👋 ", " — "]))
        d.t("my new number is ").e("PHONE_NUMBER", f.phone_number())
        d.t(f" {emo} and mail ").e("EMAIL_ADDRESS", f.email()).t(" 谢谢!")
        if r.random() < 0.3:
            d.t(" card ").e("CREDIT_CARD", g.card())


def negative(g, f, d, loc):
    r = g.r
    c = r.random()
    # Luhn-invalid card-like numbers
    if c < 0.12:
        while True:
            n = "4" + g.rs(string.digits, 15)
            if luhn_digit(n[:-1]) != n[-1]:
                break
        d.t(f"Order ref {n} shipped in {r.randint(2, 9)} boxes")
    elif c < 0.24:
        d.t(f"Release v{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}.{r.randint(0, 99)} built from commit {g.rs('0123456789abcdef', 40)}")
    elif c < 0.36:
        d.t(f"sha256:{g.rs('0123456789abcdef', 64)} uuid {g.en.uuid4()}")
    elif c < 0.48:
        d.t(f"ts={r.randint(1_600_000_000_000, 1_800_000_000_000)} seq={r.randint(10**9, 10**10)} invoice INV-{r.randint(100000, 999999)}")
    elif c < 0.6:
        d.t(r.choice(["Example key: AKIAIOSFODNN7EXAMPLE", "token ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                      "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "password = changeme",
                      "sk_test_" + "x" * 24, "api_key=YOUR_API_KEY_HERE"]))
    elif c < 0.72:
        d.t(f"ISBN 978-{r.randint(0, 9)}-{r.randint(100, 999)}-{r.randint(10000, 99999)}-{r.randint(0, 9)}; order #{r.randint(100, 999)}-{r.randint(1000000, 9999999)}")
    elif c < 0.84:
        d.t(f"Tracking {r.choice(['1Z', 'JD'])}{g.rs(string.ascii_uppercase + string.digits, 16)} part {g.rs(string.ascii_uppercase, 2)}{r.randint(1000, 9999)}")
    else:
        d.t(f"Temperature rose {r.randint(1, 40)}.{r.randint(0, 9)} degrees; model accuracy 0.{r.randint(10, 99)} on {r.randint(1000, 5000)} samples")


def news(g, f, d, loc):
    """Names and places mid-sentence with no cue word, next to company names (which often hold
    surnames and must not be reported as people)."""
    r = g.r
    d.e("PERSON", g.person(f)).t(r.choice([" and ", " met ", " joined "])).e("PERSON", g.person(f))
    d.t(r.choice([" at the ", " from "])).t(f.company()).t(r.choice([" office in ", " branch near ", " plant outside "]))
    d.e("LOCATION", g.location(f)).t(r.choice([" last week.", " on Monday.", " after the merger."]))


KINDS = [("prose", prose, 0.25), ("log", log, 0.13), ("config", config, 0.13), ("csv", csvline, 0.11),
         ("chat", chat, 0.11), ("news", news, 0.12), ("negative", negative, 0.15)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    g = Gen(a.seed)
    weights = [k[2] for k in KINDS]
    with open(a.out, "w", encoding="utf-8") as out:
        for i in range(a.records):
            name, fn, _ = g.r.choices(KINDS, weights)[0]
            loc = g.r.choice(LOCALES)
            d = Doc()
            fn(g, g.fakers[loc], d, loc)
            out.write(json.dumps({"id": i, "kind": name, "locale": loc, "text": d.text(), "spans": d.spans},
                                 ensure_ascii=False) + "\n")


if __name__ == "__main__":
    # Some Faker providers pick from sets, whose order depends on the string hash seed: pin it
    # so the same --seed always gives the same corpus.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    main()
